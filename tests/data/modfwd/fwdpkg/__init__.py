# A package served by the module forwarder (tests/test_modfwd.c).
from . import util
from .sub import leaf

VERSION = (1, 2)
