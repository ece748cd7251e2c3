"""Module 17 of the fwd20 benchmark package."""
import os


def value():
    return 17


def helper_17(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 18
    return os.path.join(str(total), "17")
