# Functions the tests call in contexts (served by the module forwarder from the master's
# sys.path). Python 2.7 and 3.6+ syntax: every context interpreter imports this file.
import os
import sys
import time


def echo(*args, **kwargs):
    # Python 2 gives keyword names as bytes
    return [list(args), dict((k.decode() if isinstance(k, bytes) else k, v)
                             for k, v in kwargs.items())]


def identity(value):
    return value


def version():
    return u"%d.%d" % sys.version_info[:2]


def fail(kind, message):
    raise {"KeyError": KeyError, "ValueError": ValueError, "custom": Custom}[kind](message)


class Custom(Exception):
    pass


class Tools(object):
    def hello(self):
        return "hello"

    @staticmethod
    def add(a, b):
        return a + b

    @classmethod
    def name(cls, suffix):
        return cls.__name__ + suffix


def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


def mark_and_sleep(path, seconds):
    """Create path (the test's sign that the call runs), then sleep."""
    open(path, "w").close()
    time.sleep(seconds)
    return "slept"


def doubler(channel):
    """Send back twice each value the master sends, until it closes the channel."""
    n = 0
    for value in channel:
        channel.send(value * 2)
        n += 1
    return n


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return os.getpid()
