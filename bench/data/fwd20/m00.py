"""Module 0 of the fwd20 benchmark package."""
from . import m01
from . import m02
import os


def value():
    return 0 + m01.value() + m02.value()


def helper_0(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 1
    return os.path.join(str(total), "0")


def run():
    """The benchmark call: touches all 20 modules."""
    return value()
