import pickle

from .sub.leaf import twice


class Point(object):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return type(other) is Point and (self.x, self.y) == (other.x, other.y)


ORIGIN = Point(0, 0)


def pickle_roundtrip():
    """A module-level class instance pickled and unpickled inside the context."""
    p = Point(3, twice(2))
    q = pickle.loads(pickle.dumps(p, 2))
    return [q == p, q is not p, type(q).__module__, q.y, pickle.loads(pickle.dumps(ORIGIN)) == ORIGIN]


def point():
    return Point(1, 2)
