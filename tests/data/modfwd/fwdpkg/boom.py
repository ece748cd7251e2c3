# -*- coding: utf-8 -*-
def fail():
    x = 1
    raise ValueError('forwarded failure %d' % x)  # the line a traceback must show


def fail_unicode():
    raise KeyError('k')  # non-ASCII source: café
