"""Module 9 of the fwd20 benchmark package."""
from . import m19
import os


def value():
    return 9 + m19.value()


def helper_9(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 10
    return os.path.join(str(total), "9")
