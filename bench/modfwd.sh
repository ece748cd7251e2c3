#!/bin/sh
# Module forwarder benchmark (never part of pass/fail). Run from a built tree:
#   sh bench/modfwd.sh [PYTHON...]
# For each interpreter (default: pyenv's 2.7 and 3.11, by absolute path, never a pyenv
# shim): bench/modfwd (N fresh contexts importing and calling the 20-module package
# bench/data/fwd20, with and without predictive import, round trips counted in the
# context), then hyperfine over the real binary (.libs/econtext, not the libtool
# wrapper): a whole `econtext call` of fwd20.m00.run against a call that imports
# nothing, with predict_imports true and false.
set -eu
cd "$(dirname "$0")/.."
[ -x bench/modfwd ] || make bench/modfwd >/dev/null
pythons=${*:-"$HOME/.pyenv/versions/2.7.18/bin/python $HOME/.pyenv/versions/3.11.7/bin/python"}
ec=$(pwd)/econtext
real=$(pwd)/.libs/econtext
[ -x "$real" ] && ec=$real
export LD_LIBRARY_PATH=$(pwd)/core/.libs
data=$(pwd)/bench/data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "predict_imports: true" >"$tmp/on.yaml"
echo "predict_imports: false" >"$tmp/off.yaml"
for py in $pythons; do
	[ -x "$py" ] || { echo "skip $py: absent"; continue; }
	echo "== $py"
	./bench/modfwd "$py" 30 "$data"
	hyperfine -N --warmup 3 --runs 30 \
		"$ec -q -c $tmp/on.yaml -m $data -o python=$py call local os.getpid" \
		"$ec -q -c $tmp/on.yaml -m $data -o python=$py call local fwd20.m00.run" \
		"$ec -q -c $tmp/off.yaml -m $data -o python=$py call local fwd20.m00.run" 2>&1 |
		grep -Ev '^ *$'
done
