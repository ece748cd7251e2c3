"""Module 15 of the fwd20 benchmark package."""
import os


def value():
    return 15


def helper_15(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 16
    return os.path.join(str(total), "15")
