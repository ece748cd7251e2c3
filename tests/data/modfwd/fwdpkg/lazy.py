def sibling_value():
    # Imported only when called.
    from . import lazysib
    from .sub import leaf
    return lazysib.VALUE + leaf.twice(1)
