#!/bin/sh
# The layers of core/ hold (core/layers.txt, tests/test_layers.py).
srcdir=${srcdir:-$(dirname "$0")/..}
exec python3 "$srcdir/tests/test_layers.py" "$srcdir"
