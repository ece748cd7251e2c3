"""Module 13 of the fwd20 benchmark package."""
import os


def value():
    return 13


def helper_13(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 14
    return os.path.join(str(total), "13")
