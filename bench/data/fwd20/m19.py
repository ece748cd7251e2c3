"""Module 19 of the fwd20 benchmark package."""
import os


def value():
    return 19


def helper_19(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 20
    return os.path.join(str(total), "19")
