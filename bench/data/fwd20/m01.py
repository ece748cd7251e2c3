"""Module 1 of the fwd20 benchmark package."""
from . import m03
from . import m04
import os


def value():
    return 1 + m03.value() + m04.value()


def helper_1(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 2
    return os.path.join(str(total), "1")
