#!/bin/sh
# bench/fleet.sh [PYTHON] [N] [ROUNDS]: N local contexts from one master and one thread
# (bench/many: async connects and one call each, in one select) against N
# `PYTHON -S -c pass` started at once (bench/pystart.sh), alternated; then calls with 64
# in flight on one context (bench/pipeline) and one at a time. Not a test.
set -eu
cd "$(dirname "$0")/.."
py=${1:-/usr/bin/python3}
n=${2:-100}
rounds=${3:-20}
[ -x bench/many ] && [ -x bench/pipeline ] || make bench/many bench/pipeline >/dev/null
export ECONTEXT_CONFIG=/dev/null
./bench/many "$py" "$n" >/dev/null # fills the bytecode cache and the direct-boot entry
echo "== $n contexts vs $n interpreters started at once ($rounds alternated rounds)"
python3 bench/alternate.py --runs "$rounds" --warmup 2 "sh bench/pystart.sh $py $n" \
	"./bench/many $py $n"
./bench/many "$py" "$n"
echo "== pipelined calls"
./bench/pipeline "$py" 100000 64
./bench/pipeline "$py" 100000 1
