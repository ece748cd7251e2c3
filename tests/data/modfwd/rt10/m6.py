from .m9 import nine


def value():
    return 6 + nine() - 9
