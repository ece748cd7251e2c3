#!/usr/bin/env python3
"""
Install our application on a machine: the seeds' single-file program.

Usage: install_app.py [-o KEY=VALUE]... CONTEXT TARBALL DEST

CONTEXT is a context of the configuration ($ECONTEXT_CONFIG), or, with -o transport=...,
an ad hoc one: install_app.py -o transport=local -o python=/usr/bin/python3 x app.tar.gz /opt/app
The function install_app runs in the context: econtext serves it this file, which the
context imports without running the block at the bottom.
"""
from __future__ import print_function

import os
import sys

import econtext


def install_app(tarball, dest):
    """Unpack tarball into dest (in the context); what tar prints goes to our log."""
    if not os.path.isdir(dest):
        os.makedirs(dest)
    status = os.system("tar zxvf '%s' -C '%s'" % (tarball, dest))
    return status, sorted(os.listdir(dest))


def main(argv):
    overrides = {}
    while len(argv) > 2 and argv[0] == "-o":
        key, _, value = argv[1].partition("=")
        overrides[key] = value
        argv = argv[2:]
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    name, tarball, dest = argv
    with econtext.Master() as master:
        with master.connect(name, **overrides) as context:
            status, files = context.call(install_app, os.path.abspath(tarball), dest)
    print("installed in %s on %s: %s (tar exit status %d)" % (dest, name, " ".join(files), status))
    return 0 if status == 0 else 1


if __name__ == "__main__":
    import logging
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    sys.exit(main(sys.argv[1:]))
