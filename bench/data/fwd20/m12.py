"""Module 12 of the fwd20 benchmark package."""
import os


def value():
    return 12


def helper_12(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 13
    return os.path.join(str(total), "12")
