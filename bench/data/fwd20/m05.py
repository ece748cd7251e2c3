"""Module 5 of the fwd20 benchmark package."""
from . import m11
from . import m12
import os


def value():
    return 5 + m11.value() + m12.value()


def helper_5(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 6
    return os.path.join(str(total), "5")
