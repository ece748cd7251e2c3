"""Module 6 of the fwd20 benchmark package."""
from . import m13
from . import m14
import os


def value():
    return 6 + m13.value() + m14.value()


def helper_6(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 7
    return os.path.join(str(total), "6")
