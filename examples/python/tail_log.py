#!/usr/bin/env python3
"""
Follow a file in a context: the seeds' tail_log_file(channel), streaming what is appended
to a growing file back over a channel.

Usage: tail_log.py [-o KEY=VALUE]... CONTEXT PATH [COUNT]

Prints each chunk as it comes; stops after COUNT chunks (default: never; Ctrl-C ends it).
"""
from __future__ import print_function

import os
import sys
import time

import econtext


def tail_log_file(channel, path="/var/log/messages"):
    """Forward new data of a log file to the master while the channel is open."""
    size = os.path.getsize(path)
    channel.send(u"following %s" % path)
    while channel.is_open():
        new_size = os.path.getsize(path)
        if new_size == size:
            time.sleep(0.1)
            continue
        elif new_size < size:
            size = 0
        fp = open(path, "rb")
        fp.seek(size)
        channel.send(fp.read(new_size - size))
        fp.close()
        size = new_size


def main(argv):
    overrides = {}
    while len(argv) > 2 and argv[0] == "-o":
        key, _, value = argv[1].partition("=")
        overrides[key] = value
        argv = argv[2:]
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    name, path = argv[0], argv[1]
    count = int(argv[2]) if len(argv) == 3 else -1
    with econtext.Master() as master, master.connect(name, **overrides) as context:
        channel = context.channel()
        call = context.call_async(tail_log_file, channel, path)
        print(channel.get(timeout=30), flush=True)
        for chunk in channel:
            sys.stdout.write(chunk.decode("utf-8", "replace"))
            sys.stdout.flush()
            count -= 1
            if count == 0:
                break
        channel.close()
        call.result(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
