import rt10.m6
from rt10 import m7


def func():
    from . import m8
    import rt10
    return [rt10.base(), rt10.m6.value(), m7.value(), m8.value()]
