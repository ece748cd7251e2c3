"""Module 2 of the fwd20 benchmark package."""
from . import m05
from . import m06
import os


def value():
    return 2 + m05.value() + m06.value()


def helper_2(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 3
    return os.path.join(str(total), "2")
