#!/bin/sh
# The whole test suite, from a fresh checkout: build, `make check` (unit tests and
# integration tests on every Python interpreter found), tests/sanitize.sh (the tests
# again under ASan and UBSan, in _asan/; EC_SKIP_SANITIZE=1 skips it), tests/valgrind.sh
# (unit, local and sudo tests under memcheck; EC_SKIP_VALGRIND=1 skips it), fuzz/run.sh
# (the libFuzzer targets built with clang, FUZZ_SECONDS each, default 60; EC_SKIP_FUZZ=1
# skips it), tests/test_packaging.sh (the Debian packages of packaging/debian/ built,
# checked by lintian, installed, used and purged; as root only; EC_SKIP_PACKAGING=1 skips
# it), `make distcheck` (on python3 and a 2.7 only, or $EC_DISTCHECK_PYTHONS;
# EC_SKIP_DISTCHECK=1 skips it), then the totals as the last line.
# Usage: tests/run-tests.sh  (from the top of the tree)
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
# A stage that prints its totals as its last line: run it unless SKIPVAR is set,
# show its output, and leave its totals in $stage_totals.
run_stage() { # NAME SCRIPT SKIPVAR TITLE
	stage_totals="0 passed, 0 failed, 0 skipped"
	eval "[ \"\${$3:-}\" = '' ]" || return 0
	echo "==== $4"
	t0=$(date +%s)
	sh "$2" >"$1.out" 2>&1
	head -n -1 "$1.out"
	stage_totals=$(tail -n 1 "$1.out")
	echo "$stage_totals" | grep -qE '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' ||
		stage_totals="0 passed, 1 failed, 0 skipped"
	echo "$1: $stage_totals ($(($(date +%s) - t0)) s)"
}
run_stage sanitize tests/sanitize.sh EC_SKIP_SANITIZE \
	"sanitizers (tests/sanitize.sh: ASan+UBSan build in _asan/)"
san=$stage_totals
run_stage valgrind tests/valgrind.sh EC_SKIP_VALGRIND \
	"valgrind (tests/valgrind.sh: memcheck, logs in _valgrind/)"
vg=$stage_totals
run_stage fuzz fuzz/run.sh EC_SKIP_FUZZ \
	"fuzzing (fuzz/run.sh: libFuzzer+ASan+UBSan, ${FUZZ_SECONDS:-60} s a target, in _fuzz/)"
fz=$stage_totals
run_stage packaging tests/test_packaging.sh EC_SKIP_PACKAGING \
	"Debian packages (tests/test_packaging.sh: dpkg-buildpackage, lintian, install, use, purge)"
pk=$stage_totals
if [ "${EC_SKIP_DISTCHECK:-}" = "" ]; then
	echo "==== make distcheck"
	# The tarball's own `make check` on Debian's python3 and a 2.7 (as tests/sanitize.sh):
	# it shows the tarball complete; every interpreter ran in `make check` above.
	py27=
	for p in "${HOME:-/root}"/.pyenv/versions/2.7*/bin/python; do
		[ -x "$p" ] && py27=$p && break
	done
	if make distcheck EC_SKIP_DISTCHECK=1 EC_SKIP_SANITIZE=1 EC_SKIP_VALGRIND=1 EC_SKIP_FUZZ=1 \
		EC_TEST_PYTHONS="${EC_DISTCHECK_PYTHONS:-/usr/bin/python3${py27:+ $py27}}" \
		>distcheck.out 2>&1; then
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
# make check's totals, plus the sanitizer, valgrind, fuzzing and packaging stages', plus
# distcheck as one more test
set -- $(tail -n 1 summary.out | sed 's/[^0-9 ]//g') $(echo "$san" | sed 's/[^0-9 ]//g') \
	$(echo "$vg" | sed 's/[^0-9 ]//g') $(echo "$fz" | sed 's/[^0-9 ]//g') \
	$(echo "$pk" | sed 's/[^0-9 ]//g')
failed=$(($2 + $5 + $8 + ${11} + ${14} + dc))
echo "$(($1 + $4 + $7 + ${10} + ${13})) passed, $failed failed, $(($3 + $6 + $9 + ${12} + ${15})) skipped"
[ "$status" = 0 ] && [ "$sumrc" = 0 ] && [ "$failed" = 0 ]
