"""Functions for tests/test_channel.c: each takes a channel (econtext.Channel)."""
import os
import time

import econtext


def produce(ch, n):
    for i in range(n):
        ch.send(i)
    return n


def consume(ch):
    total = 0
    for v in ch:
        total += v
    return total


def until_closed(ch):
    n = 0
    try:
        while ch.is_open():
            ch.send(n)
            n += 1
    except econtext.ChannelClosed:
        pass
    return n


def die(ch):
    ch.send(1)
    ch.send(2)
    time.sleep(0.2)
    os._exit(3)


def burst_then_sleep(ch):
    for i in range(10):     # a burst: the context holds all but the first
        ch.send(i)
    time.sleep(3600)        # the master gets them meanwhile, then cancels


def big(ch, n, size):
    block = b"x" * size
    for i in range(n):
        ch.send(block)
    return n


def slow_consume(ch, delay):
    n = 0
    for v in ch:
        n += len(v)
        time.sleep(delay)
    try:
        import resource
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except ImportError:
        rss = 0
    return (n, rss)


def echo(ch):
    n = 0
    for v in ch:
        ch.send(v)
        n += 1
    return n


def many(chs):
    for i, c in enumerate(chs):
        c.send(i)
    return len(chs)


def keyword(value, ch=None):
    ch.send(value)
    return "sent"


def get_timeout(ch):
    try:
        ch.get(0.05)
    except econtext.ChannelTimeout:
        return "timeout"
    return "value"


def raise_after(ch, n):
    for i in range(n):
        ch.send(i)
    raise ValueError("after %d" % n)


def ignore_close(ch):
    ch.send("started")
    time.sleep(3600)


def too_big(ch, size):
    try:
        ch.send(b"x" * size)
    except ValueError as e:
        ch.send(str(e))
        return "refused"
    return "sent"


def carried(ch):
    """A named tuple goes as the value model says; a socket is refused, saying where."""
    import collections
    import socket
    P = collections.namedtuple("P", "x y")
    ch.send(P(1, 2))
    s = socket.socket()
    try:
        ch.send({"k": [s]})
    except TypeError as e:
        ch.send(str(e))
    finally:
        s.close()
    return "done"


def interleave(a, b, rounds):
    """Bursts on a and b in turn from the main thread (small values travel together,
    docs/protocol.md "Channels"), amid them a value on a from another thread and one
    too large to go with others ([i] + 2000 zeros): each channel gets 0, 1, 2...
    in order."""
    import threading
    na = [0]

    def on_a(big=False):
        a.send([na[0]] + [0] * 2000 if big else na[0])
        na[0] += 1
    nb = 0
    for _ in range(rounds):
        for _ in range(10):
            on_a()
            b.send(nb)
            nb += 1
        for _ in range(20):
            on_a()
        t = threading.Thread(target=on_a)
        t.start()
        t.join()
        on_a()
        on_a(True)
    return na[0] + nb
