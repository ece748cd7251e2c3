"""Module 10 of the fwd20 benchmark package."""
import os


def value():
    return 10


def helper_10(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 11
    return os.path.join(str(total), "10")
