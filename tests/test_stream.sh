#!/bin/sh
# test_stream.sh: `econtext stream CONTEXT MODULE.FUNC`: each value the function sends on
# its channel is a line of JSON as it arrives; the function returning ends it; a remote
# exception exits 1; Ctrl-C (SIGINT) closes the channel (the function sees is_open()
# false) or, if it does not look, cancels it after 2 s, and exits 130 with no context
# process left. Waits are on the output, bounded at 120 s (hang detectors).
builddir=${EC_TEST_BUILDDIR:-.}
srcdir=${EC_TEST_SRCDIR:-.}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }
ec="$builddir/econtext"
export ECONTEXT_CONFIG=/dev/null
mods="$srcdir/tests/data/chan"
out=$(mktemp /tmp/ec-stream.XXXXXX)
trap 'rm -f "$out"' EXIT

timeout 60 "$ec" -m "$mods" stream local chanfn.produce 3 >"$out" 2>&1
rc=$?
[ $rc = 0 ] && [ "$(cat "$out")" = "$(printf '0\n1\n2')" ] && ok "three values, then the end" ||
	bad "produce: rc $rc, output: $(cat "$out")"

timeout 60 "$ec" -m "$mods" stream local chanfn.raise_after 2 >"$out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "raised .*ValueError: after 2" "$out" && [ "$(head -n 2 "$out")" = "$(printf '0\n1')" ] &&
	ok "a remote exception after two values: exit 1" || bad "raise_after: rc $rc, output: $(cat "$out")"

# Wait until the output has n lines (a hang detector, 120 s: make check runs the soak's
# 200 contexts beside this test).
wait_lines() { # N
	i=0
	while [ "$(wc -l <"$out")" -lt "$1" ] && [ $i -lt 1200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
# Context processes below pid $1 (its descendants named econtext:...).
contexts_of() {
	ps -eo pid=,ppid= >"$out.ps"
	below=" $1 "
	grew=1
	while [ $grew = 1 ]; do
		grew=0
		while read -r p pp; do
			case "$below" in *" $pp "*) case "$below" in *" $p "*) ;; *) below="$below$p " grew=1 ;; esac ;; esac
		done <"$out.ps"
	done
	for p in $below; do
		[ "$p" = "$1" ] && continue
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q '^econtext:' && echo "$p"
	done
	rm -f "$out.ps"
}

for fn in until_closed ignore_close; do
	# Empty first: the background command truncates it only once it runs, and the
	# previous test's lines would end wait_lines before it has started (a SIGINT then
	# reaches a shell child that ignores it, as background jobs of sh do).
	: >"$out"
	"$ec" -m "$mods" stream local "chanfn.$fn" >"$out" 2>/dev/null &
	pid=$!
	wait_lines 1
	kids=$(contexts_of $pid)
	kill -INT $pid
	# A hang fails the test instead of the suite: killed after 120 s.
	(sleep 120; kill -9 $pid 2>/dev/null) &
	dog=$!
	wait $pid
	rc=$?
	kill $dog 2>/dev/null
	left=""
	for k in $kids; do kill -0 "$k" 2>/dev/null && left="$left $k"; done
	[ $rc = 130 ] && [ -n "$kids" ] && [ -z "$left" ] && ok "$fn: Ctrl-C ends it (exit 130), its context is gone" ||
		bad "$fn: rc $rc, contexts before: '$kids', left: '$left'"
done

echo "$pass passed, $fail failed"
[ $fail = 0 ]
