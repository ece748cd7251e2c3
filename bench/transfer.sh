#!/bin/sh
# bench/transfer.sh [PYTHON] [MiB] [ROUNDS]: `econtext put` and `econtext get` of a file
# of MiB (default 1024) to and from a local context, in a directory of its own under
# $TMPDIR or /tmp (fsync included: TMPDIR=/dev/shm leaves the disk out), each run's
# MiB/s and the master's peak RSS (GNU time), then an unchanged put (digest both sides,
# nothing sent). Not a test.
set -eu
cd "$(dirname "$0")/.."
py=${1:-/usr/bin/python3}
mib=${2:-1024}
rounds=${3:-3}
[ -x econtext ] || make econtext >/dev/null
export ECONTEXT_CONFIG=/dev/null
d=$(mktemp -d "${TMPDIR:-/tmp}/ec-bench-xfer.XXXXXX")
trap 'rm -rf "$d"' EXIT
head -c $((mib << 20)) /dev/urandom >"$d/src"
run() { # LABEL ARGS...
	label=$1
	shift
	/usr/bin/time -f "%e %M" -o "$d/time" ./econtext -o python="$py" "$@" >"$d/out"
	read -r secs kb <"$d/time"
	awk -v l="$label" -v s="$secs" -v kb="$kb" -v m="$mib" \
		'BEGIN { printf "%-10s %6.2f s %8.0f MiB/s  master peak RSS %.1f MB\n", l, s, m / s, kb / 1024 }'
}
i=0
while [ $i -lt "$rounds" ]; do
	rm -f "$d/dst" "$d/back"
	run put put local "$d/src" "$d/dst"
	run get get local "$d/dst" "$d/back"
	i=$((i + 1))
done
cmp "$d/src" "$d/back"
run unchanged put local "$d/src" "$d/dst"
grep -q '"changed": false' "$d/out"
