def f(*, keyword_only=1):
    return keyword_only
