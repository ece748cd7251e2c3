from . import m4
from .m4 import base as _b4


def base():
    return 3
