#!/bin/sh
# Benchmarks (never part of pass/fail). Run from a built tree:
#   sh bench/run.sh [PYTHON...]
# For each interpreter (default: pyenv's 2.7 and 3.11, by absolute path -- never a
# pyenv shim, which alone costs ~100 ms): bootstrap of a local context to the first
# result (hyperfine; the first boot fills the cache, so the runs measure direct boots,
# docs/protocol.md), against `python -c pass`, then 10,000 sequential call round trips
# (bench/roundtrip), then the boot command and payload sizes.
set -eu
cd "$(dirname "$0")/.."
[ -x bench/roundtrip ] || make bench/roundtrip >/dev/null
pythons=${*:-"$HOME/.pyenv/versions/2.7.18/bin/python $HOME/.pyenv/versions/3.11.7/bin/python"}
export ECONTEXT_CONFIG=/dev/null
ec=$(pwd)/econtext
real=$(pwd)/.libs/econtext
[ -x "$real" ] && ec=$real   # the libtool wrapper script is not what we measure
export LD_LIBRARY_PATH=$(pwd)/core/.libs
for py in $pythons; do
	[ -x "$py" ] || { echo "skip $py: absent"; continue; }
	echo "== $py"
	hyperfine -N --warmup 5 --runs 40 \
		"$py -c pass" \
		"$ec -q -o python=$py call local os.getpid" 2>&1 | grep -Ev '^ *$'
	./bench/roundtrip "$py" 10000
done
echo "== sizes"
python3 - <<'PY'
import re
src = open("core/payload_data.c").read()
m = re.search(r"ec__payload_deflate_len = (\d+)", src)
fs = re.search(r"first stage: (\d+) bytes", src)
print("compressed payload (static part): %s bytes" % (m.group(1) if m else "?"))
print("first stage: %s" % (fs.group(0) if fs else "see core/payload_data.c"))
PY
