"""Results for bench/values.c: n small named tuples, or n plain tuples."""
import collections

Point = collections.namedtuple("Point", "x y")


def named(n):
    return [Point(i, -i) for i in range(n)]


def plain(n):
    return [(i, -i) for i in range(n)]
