"""Functions for tests/test_cancel.c: each says "started TOKEN" on its stdout (fd 1,
unbuffered: the master's log gets it) before it blocks, so the test waits for an event,
not for the clock."""
import os
import time


def _started(token):
    os.write(1, ("started %s\n" % token).encode("ascii"))


def sleep(token, seconds):
    _started(token)
    time.sleep(seconds)
    return "slept"


def read_pipe(token):
    r, w = os.pipe()
    try:
        _started(token)
        return os.read(r, 1)
    finally:
        os.close(r)
        os.close(w)


def spin(token):
    _started(token)
    n = 0
    while True:
        n += 1


def touch(path):
    open(path, "w").close()
    return path


def survive(token):
    """Catches the cancel and returns: what cancel cannot force (documented)."""
    _started(token)
    try:
        time.sleep(3600)
    except BaseException:
        return "survived"
