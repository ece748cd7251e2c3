#!/bin/sh
# test_cli_allocfail.sh: the `econtext` command with one allocation failed at a time
# (tests/econtext-allocfail: the command, the core and the plugin copies of
# tests/allocfail-plugins on tests/allocfail.c's wrappers): `call` and `put` to two
# local contexts, `get` from one. Each run ends with one JSON line per context (its
# error named when it failed, exit status not 0) or, when it failed before any context
# started, with an error on stderr and a failing exit status; never a signal, never a
# context left out of the output, never exit 0 with a failure. About 30 runs a command
# (EC_CLI_ALLOCFAIL_STRIDE=1 fails every allocation, by hand).
builddir=${EC_TEST_BUILDDIR:-.}
case "$builddir" in /*) ;; *) builddir="$PWD/$builddir" ;; esac
ec="$builddir/tests/econtext-allocfail"
py=/usr/bin/python3
[ -x "$py" ] || { echo "SKIP: no $py"; exit 77; }
[ -x "$ec" ] || { echo "SKIP: $ec not built"; exit 77; }
tmp=$(mktemp -d /tmp/ec-cli-allocfail.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/remote" "$tmp/local"
cat >"$tmp/conf.yaml" <<YAML
plugin_path: [$builddir/tests/allocfail-plugins/.libs]
contexts:
  a: {transport: local, python: $py}
  b: {transport: local, python: $py}
YAML
head -c 300000 /dev/urandom >"$tmp/src"
cp "$tmp/src" "$tmp/remote/there"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; sed 's/^/    /' "$tmp/out" "$tmp/err" | head -n 20; }

# The lines of out, checked against the contexts expected (names in $2, space
# separated) and the exit status ($1): "" when right, else what is wrong.
judge() {
	"$py" - "$1" "$2" "$tmp/out" "$tmp/err" <<'PY'
import json, sys
status, names, out, err = int(sys.argv[1]), sys.argv[2].split(), sys.argv[3], sys.argv[4]
lines = [l for l in open(out, "rb").read().decode("utf-8", "replace").splitlines() if l.strip()]
said = [l for l in open(err, "rb").read().decode("utf-8", "replace").splitlines()
        if not l.startswith("allocfail: ")]
why = ""
if status >= 128:
    why = "killed by signal %d" % (status - 128)
elif not lines:
    if status == 0 or not said:
        why = "no line, exit %d, %s" % (status, "an error said" if said else "nothing said")
else:
    try:
        got = [json.loads(l) for l in lines]
    except ValueError as e:
        got, why = [], "a line is not JSON (%s)" % e
    seen = sorted(g.get("context") for g in got)
    if not why and seen != sorted(names):
        why = "contexts %s, expected %s" % (seen, sorted(names))
    elif not why and status == 0 and not all(g.get("ok") for g in got):
        why = "exit 0 with a failure"
    elif not why and status != 0 and all(g.get("ok") for g in got) and not said:
        why = "exit %d, every context ok, nothing said" % status
print(why)
PY
}

# NAME NAMES CLEAN ARGS...: the reference run, then allocation k failed for k = 1,
# 1 + stride, ... (CLEAN: what to remove before each run).
failing() {
	label=$1 names=$2 clean=$3
	shift 3
	rm -f $clean
	EC_ALLOCFAIL_NTH=0 "$ec" -c "$tmp/conf.yaml" --json "$@" >"$tmp/out" 2>"$tmp/err"
	st=$?
	n=$(sed -n 's/^allocfail: \([0-9]*\) allocations$/\1/p' "$tmp/err" | tail -n 1)
	why=$(judge $st "$names")
	if [ $st != 0 ] || [ -n "$why" ] || [ -z "$n" ]; then
		bad "$label: the reference run (exit $st${why:+: $why})"
		return
	fi
	stride=${EC_CLI_ALLOCFAIL_STRIDE:-$(( (n + 29) / 30 ))}
	k=1 runs=0 errors=0 wrong=0
	while [ $k -le $n ]; do
		rm -f $clean
		EC_ALLOCFAIL_NTH=$k "$ec" -c "$tmp/conf.yaml" --json "$@" >"$tmp/out" 2>"$tmp/err"
		st=$?
		why=$(judge $st "$names")
		runs=$((runs + 1))
		[ $st != 0 ] && errors=$((errors + 1))
		if [ -n "$why" ]; then
			wrong=$((wrong + 1))
			bad "$label, allocation $k of $n failed: $why"
		fi
		k=$((k + stride))
	done
	[ $wrong = 0 ] && ok "$label: $runs of its $n allocations failed in turn (one in $stride), $errors runs failing, each context reported"
}

failing "call a,b json.dumps" "a b" "" call a,b json.dumps 7
failing "put to a,b" "a b" "$tmp/remote/file" put a,b "$tmp/src" "$tmp/remote/file"
failing "get from a" "a" "$tmp/local/back" get a "$tmp/remote/there" "$tmp/local/back"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
