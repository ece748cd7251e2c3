"""Module 8 of the fwd20 benchmark package."""
from . import m17
from . import m18
import os


def value():
    return 8 + m17.value() + m18.value()


def helper_8(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 9
    return os.path.join(str(total), "8")
