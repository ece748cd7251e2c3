"""Module 4 of the fwd20 benchmark package."""
from . import m09
from . import m10
import os


def value():
    return 4 + m09.value() + m10.value()


def helper_4(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 5
    return os.path.join(str(total), "4")
