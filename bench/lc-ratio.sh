#!/bin/sh
# bench/lc-ratio.sh: issue 20's "local connect-back at least 90% of the local transport",
# alternated in one sitting, two ways each round:
#   free    the scheduler places master and context where it likes (as users run it);
#   pinned  the master on vCPU 0, the context on vCPU 1 (taskset): each side has a CPU
#           of its own all the time, the best overlap two processes can get, so the
#           ratio there is what the work of each transport allows, not where it ran.
# Each run: `sshbench CFG l|lc 1 TOTAL_MB` (TOTAL_MB of 16 MiB results, one call at a
# time, then two in flight), under /usr/bin/time for the CPU of master and context.
# Prints each run, then medians and lc/l per way.
# Run from a built tree:   sh bench/lc-ratio.sh [TOTAL_MB] [ROUNDS]
# Not a test: timings decide nothing. Needs taskset (util-linux) and /usr/bin/time.
set -eu
cd "$(dirname "$0")/.."
total_mb=${1:-1024}
rounds=${2:-5}
py=/usr/bin/python3
for t in taskset /usr/bin/time "$py"; do
	command -v "$t" >/dev/null || { echo "bench/lc-ratio.sh: $t not found" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "bench/lc-ratio.sh: needs 2 CPUs" >&2; exit 1; }
[ -x bench/sshbench ] || make bench/sshbench >/dev/null

dir=$(mktemp -d /tmp/eclc-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
# The context's interpreter on vCPU 1 (the first stage re-executes it: it stays there).
printf '#!/bin/sh\nexec taskset -c 1 %s "$@"\n' "$py" >"$dir/py1"
chmod +x "$dir/py1"
libs=$(pwd)/plugins
for way in free pinned; do
	p=$py
	[ $way = pinned ] && p=$dir/py1
	cat >"$dir/$way.yaml" <<YAML
plugin_path: [$libs/local/.libs, $libs/tls/.libs, $libs/pickle/.libs]
contexts:
  l: {transport: local, python: $p}
  lc: {transport: local, python: $p, connect_back: true}
YAML
done
export LD_LIBRARY_PATH=$(pwd)/core/.libs
echo "python $py, $total_mb MiB a run, $rounds rounds, $(nproc) CPUs"

one() { # WAY CONTEXT: "one-call-MiB/s two-in-flight-MiB/s cpu-s" on a line
	pin=
	[ "$1" = pinned ] && pin="taskset -c 0"
	/usr/bin/time -f "cpu %U %S" -o "$dir/time" $pin ./bench/.libs/sshbench \
		"$dir/$1.yaml" "$2" 1 "$total_mb" >"$dir/out"
	one_call=$(awk '/^bulk context/ {print $(NF-6)}' "$dir/out")
	two=$(awk '/^bulk, two calls/ {print $(NF-6)}' "$dir/out")
	cpu=$(awk '/^cpu/ {printf "%.2f", $2 + $3}' "$dir/time")
	echo "$one_call $two $cpu"
}
i=0
while [ $i -lt "$rounds" ]; do
	i=$((i + 1))
	for way in free pinned; do
		for c in l lc; do
			r=$(one $way $c)
			echo "$way $c $r" >>"$dir/all"
			echo "round $i  $way  $c  $r" | awk '{printf "round %s  %-6s %-2s  one call %7.1f MiB/s  two in flight %7.1f  cpu %5.2f s\n", $2, $3, $4, $5, $6, $7}'
		done
	done
done
"$py" - "$dir/all" "$total_mb" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
gib = float(sys.argv[2]) * 2 / 1024        # both bulk runs: one call, two in flight
def med(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
for way in ("free", "pinned"):
    get = lambda c, k: [float(r[2 + k]) for r in rows if r[0] == way and r[1] == c]
    l1, c1, l2, c2 = get("l", 0), get("lc", 0), get("l", 1), get("lc", 1)
    per = [b / a for a, b in zip(l1, c1)]
    print("%-6s one call: l %.0f (%.0f-%.0f), lc %.0f (%.0f-%.0f) MiB/s; lc/l of the medians "
          "%.0f%%, per round %.0f%%-%.0f%%, %d of %d rounds at 90%% or more" % (
              way, med(l1), min(l1), max(l1), med(c1), min(c1), max(c1),
              100 * med(c1) / med(l1), 100 * min(per), 100 * max(per),
              sum(p >= 0.9 for p in per), len(per)))
    print("%-6s two in flight: l %.0f, lc %.0f MiB/s (%.0f%%); CPU a GiB: l %.2f s, lc %.2f s" % (
        way, med(l2), med(c2), 100 * med(c2) / med(l2),
        med(get("l", 2)) / gib, med(get("lc", 2)) / gib))
PY
