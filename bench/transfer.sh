#!/bin/sh
# bench/transfer.sh [PYTHON] [MiB] [ROUNDS]: `econtext put` and `econtext get` of a file
# of MiB (default 1024) to and from a local context, in a directory of its own under
# $TMPDIR or /tmp (fsync included: TMPDIR=/dev/shm leaves the disk out), each run's
# MiB/s and the master's peak RSS (GNU time), then an unchanged put (digest both sides,
# nothing sent). Not a test.
#
# The floor, in the same round: `cp` of the same file into the same directory. Each
# run writes a new file and the last run's output is removed first, so that each
# writes into memory as warm as the others': on a VM whose balloon takes back freed
# pages, a write into pages never touched since costs up to 3 s of system time a GiB
# (`cp` alone 0.3-3.1 s here, by which pages it got), more than the transfer itself.
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
report() { # LABEL: wall time, rate, peak RSS, CPU seconds (user, system; a local
	# context is a child of the command: counted)
	read -r secs kb user sys <"$d/time"
	awk -v l="$1" -v s="$secs" -v kb="$kb" -v m="$mib" -v u="$user" -v y="$sys" \
		'BEGIN { printf "%-10s %6.2f s %8.0f MiB/s  peak RSS %.1f MB  CPU %.2f user %.2f sys\n",
		         l, s, m / s, kb / 1024, u, y }'
}
run() { # LABEL ARGS...
	label=$1
	shift
	/usr/bin/time -f "%e %M %U %S" -o "$d/time" ./econtext -o python="$py" "$@" >"$d/out"
	report "$label"
}
i=0
while [ $i -lt "$rounds" ]; do
	rm -f "$d/out-file"
	/usr/bin/time -f "%e %M %U %S" -o "$d/time" cp "$d/src" "$d/out-file"
	report "cp"
	rm -f "$d/out-file"
	run put put local "$d/src" "$d/out-file"
	cmp "$d/src" "$d/out-file"
	rm -f "$d/out-file"
	run get get local "$d/src" "$d/out-file"
	cmp "$d/src" "$d/out-file"
	i=$((i + 1))
done
rm -f "$d/out-file"
cp "$d/src" "$d/out-file"
run unchanged put local "$d/src" "$d/out-file"
grep -q '"changed": false' "$d/out"
