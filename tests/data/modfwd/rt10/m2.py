from . import m3
from .m3 import base as _b3


def base():
    return 2
