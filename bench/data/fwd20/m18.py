"""Module 18 of the fwd20 benchmark package."""
import os


def value():
    return 18


def helper_18(x):
    """Padding, so that each module is a few hundred bytes like real code."""
    total = 0
    for i in range(x):
        total += i * 19
    return os.path.join(str(total), "18")
