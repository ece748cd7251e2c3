#!/bin/sh
# test_fleet.sh: `econtext call|ping TARGET` over a fleet (docs/cli.md): 50 local
# contexts on the interpreters found, some failing on purpose (a missing python, a
# function that raises, one that outlives --timeout): each reported exactly once as a
# JSON line, the exit status the worst failure's, no context process left; groups,
# globs and unknown names (errors name the file and line); the progress line through a
# pseudo-terminal; Ctrl-C and SIGTERM.
builddir=${EC_TEST_BUILDDIR:-.}
ec="$builddir/econtext"
export ECONTEXT_CONFIG=/dev/null
pty_python=/usr/bin/python3 # drives the pseudo-terminal; Debian always has it

# The interpreters: $EC_TEST_PYTHONS, else pyenv's and the system's (as tests/testutil.c).
if [ -n "$EC_TEST_PYTHONS" ]; then
	candidates=$(echo "$EC_TEST_PYTHONS" | tr ':' ' ')
else
	candidates="$(ls -d "$HOME"/.pyenv/versions/*/bin/python /root/.pyenv/versions/*/bin/python \
		2>/dev/null | sort -u) /usr/bin/python2.7 /usr/bin/python3"
fi
pythons=
for p in $candidates; do
	if [ -x "$p" ] && "$p" -c pass 2>/dev/null; then pythons="$pythons $p"; else echo "absent (skipped): $p"; fi
done
if [ -z "$pythons" ] || [ ! -x "$pty_python" ]; then
	echo "SKIP: no python interpreter"
	exit 77
fi
echo "interpreters:$pythons"
npy=$(echo $pythons | wc -w)
py_at() { echo $pythons | cut -d' ' -f$(( ($1 % npy) + 1 )); }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; sed 's/^/    /' "$tmp/out" "$tmp/err" 2>/dev/null | head -n 30; }
check() { if eval "$1"; then ok "$2"; else bad "$2"; fi; }

# The function every context runs; the wrappers below make some of them fail.
cat >"$tmp/fleetfix.py" <<'EOF'
import os, time
def work(x):
    mode = os.environ.get("EC_FLEET_MODE")
    if mode == "raise":
        raise ValueError("planned failure %s" % x)
    if mode == "slow":
        time.sleep(3600)
    return [x, os.getpid()]
EOF
i=0
for mode in raise slow; do
	for p in $pythons; do
		i=$((i + 1))
		printf '#!/bin/sh\nEC_FLEET_MODE=%s exec %s "$@"\n' "$mode" "$p" >"$tmp/$mode$i"
		chmod +x "$tmp/$mode$i"
	done
done
wrapper() { ls "$tmp"/$1* | sed -n "$(( ($2 % npy) + 1 ))p"; }

# 50 contexts: the slow ones first (they start first and set the run's length), then
# 4 that raise, 3 whose python is missing, 40 that answer.
conf="$tmp/fleet.yaml"
{
	echo "forks: 20"
	echo "groups:"
	echo "  good: ['ok*']"
	echo "  failing: [slow1, slow2, slow3, 'raise*', 'bad*']"
	echo "  everyone: [failing, good]"
	echo "contexts:"
	for n in 1 2 3; do echo "  slow$n: {transport: local, python: $(wrapper slow $n)}"; done
	for n in 1 2 3 4; do echo "  raise$n: {transport: local, python: $(wrapper raise $n)}"; done
	for n in 1 2 3; do echo "  bad$n: {transport: local, python: /nonexistent/python$n}"; done
	n=1
	while [ $n -le 40 ]; do
		printf '  ok%02d: {transport: local, python: %s}\n' $n "$(py_at $n)"
		n=$((n + 1))
	done
} >"$conf"

# Context processes of the master $1 still running (their title: econtext:user@host:PID).
leftovers() { ps -eo args= | grep -c "^econtext:[^ ]*:$1\( \|$\)"; }

# run CODE DESC ARGS...: econtext in the background (its pid in $pid), expect exit CODE.
run() {
	want=$1 desc=$2
	shift 2
	"$ec" -c "$conf" -m "$tmp" "$@" >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	wait $pid
	got=$?
	if [ "$got" = "$want" ]; then ok "$desc"; return 0; fi
	echo "    exit $got, wanted $want"
	bad "$desc"
	return 1
}
lines_for() { grep -c "^{\"context\": \"$1\"," "$tmp/out"; }

# ---- the fleet ---------------------------------------------------------------------
start=$(date +%s)
run 4 "50 contexts: exit status of the worst failure (connect)" \
	--timeout 8 --summary call everyone fleetfix.work 7
check '[ "$(wc -l <"$tmp/out")" = 50 ]' "50 JSON lines"
missing=
for name in $(sed -n 's/^  \([a-z0-9]*\): {transport.*/\1/p' "$conf"); do
	[ "$(lines_for "$name")" = 1 ] || missing="$missing $name"
done
check '[ -z "$missing" ]' "each context reported exactly once${missing:+ (not:$missing)}"
check '[ "$(grep -c "\"ok\": true, \"result\": \[7, [0-9]*\], \"seconds\": [0-9.]*}$" "$tmp/out")" = 40 ]' \
	"40 results, each with its seconds"
check '[ "$(grep "^{\"context\": \"raise" "$tmp/out" | grep -c "\"kind\": \"[a-z]*\.ValueError\", \"message\": \"planned failure 7\"")" = 4 ]' \
	"a remote exception: its type and message"
check '[ "$(grep "^{\"context\": \"slow" "$tmp/out" | grep -c "\"kind\": \"EC_ETIMEDOUT\", \"message\": \"fleetfix.work did not return within 8 s (cancelled)\"")" = 3 ]' \
	"a call past --timeout: cancelled, EC_ETIMEDOUT"
check '[ "$(grep "^{\"context\": \"bad" "$tmp/out" | grep -c "\"kind\": \"EC_EBOOT\", \"message\": \"cannot start context .bad[0-9].: cannot run /nonexistent/python")" = 3 ]' \
	"a connect failure: EC_EBOOT, the missing python named"
check 'grep -q "^econtext: 50 contexts in [0-9.]* s: 40 ok, 10 failed (0 config, 3 connect, 3 timeout, 4 remote, 0 other)$" "$tmp/err"' \
	"--summary: the counts on stderr"
check '[ "$(leftovers $pid)" = 0 ]' "no context process left behind"
echo "    (the 50 took $(( $(date +%s) - start )) s)"

# The order of failures: timeout > remote; remote alone; all ok.
run 5 "timeout and remote: exit 5" --timeout 3 call slow1,raise1,ok01 fleetfix.work 1
run 1 "remote alone: exit 1" call 'raise*' fleetfix.work 1 &&
	check '[ "$(wc -l <"$tmp/out")" = 4 ]' "a glob: the 4 contexts it matches"
run 0 "all ok: exit 0" call good fleetfix.work 2 && check '[ "$(wc -l <"$tmp/out")" = 40 ]' "a group: its 40"
run 0 "ping a group on every interpreter" --forks 5 ping 'ok0*,ok1*' &&
	check '[ "$(grep -c "^{\"context\": \"ok[01][0-9]\", \"ok\": true, \"python\": \"[23]\.[0-9]*\.[0-9]*\", \"pid\": [0-9]*, \"seconds\": [0-9.]*}$" "$tmp/out")" = 19 ]' \
		"ping lines: python version, pid, seconds"
versions=$(for p in $pythons; do "$p" -c 'import platform; print(platform.python_version())'; done | sort -u | tr '\n' ' ')
seen=$(sed -n 's/.*"python": "\([^"]*\)".*/\1/p' "$tmp/out" | sort -u | tr '\n' ' ')
[ "$npy" -le 19 ] && check '[ "$seen" = "$versions" ]' "every interpreter answered ($seen)"
run 0 "a comma list, repeated names once" call ok01,ok02,ok01 fleetfix.work 3 &&
	check '[ "$(wc -l <"$tmp/out")" = 2 ] && [ "$(lines_for ok01)" = 1 ]' "two lines"

# ---- one literal context: as before ------------------------------------------------
run 0 "one context: the result alone" call ok01 fleetfix.work 4 &&
	check 'grep -q "^\[4, [0-9]*\]$" "$tmp/out" && [ "$(wc -l <"$tmp/out")" = 1 ]' "one line, no envelope"
run 1 "one context that raises: as before" call raise1 fleetfix.work 4 &&
	check 'grep -q "raised [a-z]*\.ValueError: planned failure 4" "$tmp/err"' "the exception on stderr"
run 0 "--json: the envelope for one context" --json call ok01 fleetfix.work 4 &&
	check 'grep -q "^{\"context\": \"ok01\", \"ok\": true, \"result\": \[4, [0-9]*\], \"seconds\"" "$tmp/out"' "one JSON line"
py1=$(py_at 0)
run 0 "an ad hoc context with --json" --json -o transport=local -o "python=$py1" call adhoc1 os.getpid &&
	check 'grep -q "^{\"context\": \"adhoc1\", \"ok\": true, \"result\": [0-9]*," "$tmp/out"' "ad hoc line"

# ---- names that are not there ------------------------------------------------------
run 3 "an unknown name in a list" call ok01,nosuch fleetfix.work 1 &&
	check 'grep -q "^econtext: .*fleet.yaml: .nosuch. is not a context or a group" "$tmp/err" && [ ! -s "$tmp/out" ]' \
		"the error names it and the file; nothing runs"
run 3 "a glob matching nothing" call 'web*' fleetfix.work 1 &&
	check 'grep -q "fleet.yaml: .web\*. matches no context" "$tmp/err"' "the glob named"
run 2 "an empty name" call 'ok01,,ok02' fleetfix.work 1
run 2 "--forks 0" --forks 0 call good fleetfix.work 1
printf 'groups:\n  web: [web1, web3]\ncontexts:\n  web1: {transport: local}\n' >"$tmp/g1.yaml"
run 3 "a group with an unknown member" -c "$tmp/g1.yaml" call web os.getpid &&
	check 'grep -q "g1.yaml:2:15: group .web.: .web3. is not a context or a group; did you mean .web1.?" "$tmp/err"' \
		"file:line:col and the member named"
printf 'groups:\n  a: [b]\n  b: [web1, a]\ncontexts:\n  web1: {transport: local}\n' >"$tmp/g2.yaml"
run 3 "groups that loop" -c "$tmp/g2.yaml" call a os.getpid &&
	check 'grep -q "g2.yaml:2:7: group .b. contains itself: b -> a -> b\|g2.yaml:3:13: group .a. contains itself: a -> b -> a" "$tmp/err"' \
		"the loop shown where it closes"

# ---- the progress line, through a pseudo-terminal ----------------------------------
# stderr on a pty, stdout to a file; prints what the terminal got, then the exit status.
cat >"$tmp/pty.py" <<'EOF'
import os, subprocess, sys
master, slave = os.openpty()
with open(sys.argv[1], "wb") as out:
    p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=out, stderr=slave)
os.close(slave)
got = b""
while True:
    try:
        d = os.read(master, 65536)
    except OSError:  # EIO: the other side closed
        break
    if not d:
        break
    got += d
cleared = got.endswith(b"\r\x1b[K")
sys.stdout.write("%r\n%s\n%d\n" % (got, "cleared" if cleared else "not cleared", p.wait()))
EOF
"$pty_python" "$tmp/pty.py" "$tmp/out" "$ec" -c "$conf" -m "$tmp" --timeout 4 call slow1,ok01,ok02 fleetfix.work 5 >"$tmp/err"
check '[ "$(tail -n 1 "$tmp/err")" = 5 ] && [ "$(wc -l <"$tmp/out")" = 3 ]' "on a terminal: the same lines and exit status"
check 'grep -q "econtext: [0-9]/3 done, [0-9] failed, [0-9] running; slowest slow1 [0-9.]* s" "$tmp/err"' \
	"a progress line: done, failed, running, the slowest named"
check '[ "$(grep -o "econtext: 2/3 done, 0 failed, 1 running; slowest slow1 [0-9.]* s" "$tmp/err" | sort -u | wc -l)" -ge 2 ]' \
	"redrawn while it waits (the slowest one's clock)"
check '[ "$(sed -n 2p "$tmp/err")" = cleared ]' "cleared at the end"
"$pty_python" "$tmp/pty.py" "$tmp/out" "$ec" -c "$conf" -m "$tmp" --json call ok01,ok02 fleetfix.work 5 >"$tmp/err"
check '[ "$(head -n 1 "$tmp/err")" = "b'"''"'" ] && [ "$(wc -l <"$tmp/out")" = 2 ]' "--json: no progress line on a terminal"

# ---- Ctrl-C and SIGTERM ------------------------------------------------------------
# sig SIGNAL: slow1 and slow2 running, ok01 done; then the signal.
sig() {
	"$ec" -c "$conf" -m "$tmp" --summary call ok01,slow1,slow2 fleetfix.work 6 >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	n=0
	while [ "$(leftovers $pid)" -lt 2 ] || [ "$(lines_for ok01)" != 1 ]; do
		n=$((n + 1))
		[ $n -gt 600 ] && break
		sleep 0.05
	done
	sleep 0.2 # the slow calls under way
	kill -"$1" $pid
	wait $pid
}
sig INT
check '[ $? = 130 ]' "Ctrl-C: exit 130"
check '[ "$(wc -l <"$tmp/out")" = 3 ] && [ "$(lines_for ok01)" = 1 ]' "what finished is printed, each once"
check '[ "$(grep -c "\"kind\": \"EC_ECANCELED\", \"message\": \"interrupted by SIGINT while" "$tmp/out")" = 2 ]' \
	"the running ones reported cancelled"
check 'grep -q "1 ok, 0 failed .*, 2 cancelled, 0 not started" "$tmp/err"' "the summary counts them"
check '[ "$(leftovers $pid)" = 0 ]' "every context shut down"
sig TERM
check '[ $? = 143 ]' "SIGTERM: exit 143"
check '[ "$(grep -c "interrupted by SIGTERM while" "$tmp/out")" = 2 ] && [ "$(leftovers $pid)" = 0 ]' \
	"SIGTERM: cancelled and shut down too"

echo "RESULT: $pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
