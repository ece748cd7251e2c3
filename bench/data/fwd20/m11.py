"""Module 11 of the fwd20 benchmark package."""
import os


def value():
    return 11


def helper_11(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 12
    return os.path.join(str(total), "11")
