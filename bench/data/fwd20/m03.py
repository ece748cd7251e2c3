"""Module 3 of the fwd20 benchmark package."""
from . import m07
from . import m08
import os


def value():
    return 3 + m07.value() + m08.value()


def helper_3(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 4
    return os.path.join(str(total), "3")
