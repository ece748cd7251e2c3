#!/bin/sh
# The whole test suite, from a fresh checkout: build, `make check` (unit tests and
# integration tests on every Python interpreter found), `make distcheck`, then the
# totals as the last line. Usage: tests/run-tests.sh  (from the top of the tree)
set -u
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
status=0
if [ ! -f Makefile ]; then
	./autogen.sh >/dev/null 2>&1 || { echo "autogen.sh failed"; exit 1; }
	./configure --enable-werror >configure.out 2>&1 || { cat configure.out; echo "configure failed"; exit 1; }
fi
make -j"$jobs" >make.out 2>&1 || { cat make.out; echo "build failed"; exit 1; }
make -j"$jobs" check >check.out 2>&1 || status=1
# Show every test program's own output, then the harness's verdicts.
for log in $(find tests -name '*.log' ! -name test-suite.log | sort); do
	echo "==== $log"
	cat "$log"
done
grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' check.out
if [ "${EC_SKIP_DISTCHECK:-}" = "" ]; then
	echo "==== make distcheck"
	if make distcheck EC_SKIP_DISTCHECK=1 >distcheck.out 2>&1; then
		echo "distcheck: passed"
		dc=0
	else
		tail -n 60 distcheck.out
		echo "distcheck: FAILED (see distcheck.out)"
		dc=1
	fi
else
	dc=0
fi
echo "==== summary"
sh tests/summary.sh . >summary.out
sumrc=$?
head -n -1 summary.out
last=$(tail -n 1 summary.out)
if [ "$dc" = 1 ]; then
	# distcheck counts as one more test
	set -- $(echo "$last" | sed 's/[^0-9 ]//g')
	echo "$1 passed, $(($2 + 1)) failed, $3 skipped"
	exit 1
fi
echo "$last"
[ "$status" = 0 ] && [ "$sumrc" = 0 ]
