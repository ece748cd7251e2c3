# -*- coding: latin-1 -*-
"""Latin-1 source: déjà vu."""


def fail():
    raise ValueError("x")  # été


def doc():
    return __doc__


def source():
    import inspect
    return inspect.getsource(fail)
