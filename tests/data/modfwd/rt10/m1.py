from . import m2
from .m2 import base as _b2


def base():
    return 1
