#!/bin/sh
# test_payload.sh: the remote side on its own, on every interpreter found: the Python
# harness plays the master (boot stream, frames, calls, logs, bad MACs, EOF).
srcdir=${EC_TEST_SRCDIR:-.}
py=$(command -v python3) || { echo "SKIP: python3 absent"; exit 77; }
PYTHONDONTWRITEBYTECODE=1 "$py" "$srcdir/tests/payload_selftest.py" --srcdir "$srcdir/payload" >payload.out 2>&1
rc=$?
cat payload.out
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' payload.out | tail -n 1)
rm -f payload.out
[ "$rc" = 77 ] && exit 77
[ -n "$line" ] && echo "RESULT: $line, 0 skipped"
exit $rc
