from . import m9


def value():
    return m9.nine() - 1
