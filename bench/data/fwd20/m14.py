"""Module 14 of the fwd20 benchmark package."""
import os


def value():
    return 14


def helper_14(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 15
    return os.path.join(str(total), "14")
