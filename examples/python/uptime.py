#!/usr/bin/env python3
"""
Run a shell command in a context with context.call(os.system, ...): what it prints comes
back into this program's log (logger econtext.ctx.NAME.stdout).

Usage: uptime.py [-o KEY=VALUE]... [CONTEXT]      (default: local)
"""
import logging
import os
import sys

import econtext


def main(argv):
    overrides = {}
    while len(argv) > 1 and argv[0] == "-o":
        key, _, value = argv[1].partition("=")
        overrides[key] = value
        argv = argv[2:]
    name = argv[0] if argv else "local"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname).1s %(name)s: %(message)s")
    with econtext.Master() as master, master.connect(name, **overrides) as context:
        return context.call(os.system, "hostname; uptime")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
