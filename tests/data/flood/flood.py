"""flood.py: a context that floods the master (tests/test_faults.c), until cancelled."""
import logging
import sys


def log_forever():
    n = 0
    while True:
        logging.warning("flood record %d", n)
        n += 1


def print_forever():
    n = 0
    while True:
        sys.stdout.write("flood line %d\n" % n)
        sys.stdout.flush()
        n += 1

