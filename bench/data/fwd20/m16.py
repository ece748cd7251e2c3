"""Module 16 of the fwd20 benchmark package."""
import os


def value():
    return 16


def helper_16(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 17
    return os.path.join(str(total), "16")
