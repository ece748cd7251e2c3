# Ten modules importing each other: they must arrive in at most two round trips.
from .m0 import base
