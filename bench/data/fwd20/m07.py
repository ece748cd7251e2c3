"""Module 7 of the fwd20 benchmark package."""
from . import m15
from . import m16
import os


def value():
    return 7 + m15.value() + m16.value()


def helper_7(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 8
    return os.path.join(str(total), "7")
