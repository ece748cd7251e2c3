#!/bin/sh
# The sanitizer stage of the test suite: the tree built again in _asan/build with
# AddressSanitizer (+ LeakSanitizer) and UndefinedBehaviorSanitizer, then the unit
# tests, the CLI test and the integration tests on one interpreter run there. Any
# sanitizer report stops its program, which then fails; the failed programs' logs are
# printed. The last line is tests/summary.sh's "N passed, N failed, N skipped" for
# that build (run-tests.sh adds it to its own).
# The Python children are not instrumented and get nothing preloaded: the test
# programs and plugins carry the sanitizer runtime themselves. The Python module's
# suite (test_python.sh) runs its master, an uninstrumented python, with the runtimes
# preloaded and LeakSanitizer off (the interpreter's own allocations); its local
# contexts inherit the preload (harmless to python; procps tools hang with it).
# Usage: tests/sanitize.sh  (from the top of the tree; a configured tree is copied
# with `make distdir` first, for configure refuses a second build of a configured
# source directory). EC_SANITIZE_PYTHONS: the interpreters (default /usr/bin/python3
# and pyenv's 2.7 where there is one).
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
san="-fsanitize=address,undefined"
mkdir -p _asan
fail() {
	echo "$1"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}
if [ -f config.status ]; then
	make distdir distdir=_asan/src >_asan/distdir.out 2>&1 || {
		cat _asan/distdir.out
		fail "sanitize: make distdir failed"
	}
	src=$top/_asan/src
else
	[ -x configure ] || ./autogen.sh >/dev/null 2>&1 || fail "sanitize: autogen.sh failed"
	src=$top
fi
rm -rf _asan/build
mkdir _asan/build
cd _asan/build || exit 1
"$src/configure" --enable-werror \
	CFLAGS="-O1 -g -fno-omit-frame-pointer $san -fno-sanitize-recover=undefined" \
	LDFLAGS="$san" >configure.out 2>&1 || { cat configure.out; fail "sanitize: configure failed"; }
# `make check TESTS=` builds every test program and runs none.
make -j"$jobs" all >make.out 2>&1 && make -j"$jobs" check TESTS= >>make.out 2>&1 ||
	{ cat make.out; fail "sanitize: build failed"; }

# LeakSanitizer stops the process's threads with ptrace at exit; where it cannot (no
# CAP_SYS_PTRACE, the suite itself traced), it would fail every program: off, visibly.
leaks=1
cc=$(sed -n 's/^CC = //p' Makefile)
echo 'int main(void) { return 0; }' >probe.c
$cc $san probe.c -o probe >probe.out 2>&1 && ASAN_OPTIONS=detect_leaks=0 ./probe >>probe.out 2>&1 ||
	{ cat probe.out; fail "sanitize: AddressSanitizer does not run here (EC_SKIP_SANITIZE=1 skips)"; }
if ASAN_OPTIONS=detect_leaks=1 ./probe >probe.out 2>&1; then
	echo "sanitize: AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer"
else
	leaks=0
	echo "sanitize: LeakSanitizer does not work here, leak detection OFF:"
	sed 's/^/  /' probe.out
fi
ASAN_OPTIONS="detect_leaks=$leaks:halt_on_error=1:print_stacktrace=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# Debian's python3 and, where pyenv has one, a 2.7: the master's decoder takes other
# paths for 2.7's pickles (protocol 2, str as bytes) and the boot others for 2.7.
py27=
for p in "${HOME:-/root}"/.pyenv/versions/2.7*/bin/python; do
	[ -x "$p" ] && py27=$p && break
done
[ -n "$py27" ] || echo "sanitize: no Python 2.7 (pyenv) here: SKIP its runs"
EC_TEST_PYTHONS=${EC_SANITIZE_PYTHONS:-/usr/bin/python3${py27:+ $py27}}
export ASAN_OPTIONS UBSAN_OPTIONS EC_TEST_PYTHONS

tests=
for t in test_value test_frame test_config test_plugin test_pickle test_modules test_allocfail \
	test_broker test_reaper test_secret test_child test_password test_local_plugin \
	test_context test_local test_modfwd test_sudo test_prompt test_ssh test_sudo_ssh \
	test_cancel test_select test_channel test_values test_faults test_transfer \
	test_cli.sh test_fuzz_replay.sh test_python.sh; do
	case $t in
	*.sh) f=$src/tests/$t ;;
	*) f=tests/$t ;; # test_ssh and test_sudo_ssh are built with libssh2 only
	esac
	[ -e "$f" ] && tests="$tests tests/$t"
done
echo "sanitize: interpreters $EC_TEST_PYTHONS; programs:$tests"
status=0
make -j"$jobs" check TESTS="$tests" >check.out 2>&1 || status=1
grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' check.out | sed 's/^/sanitize: /'
for log in $(find tests -name '*.log' ! -name test-suite.log | sort); do
	result=$(sed -n 's/^:test-result: //p' "${log%.log}.trs" 2>/dev/null | head -n 1)
	if [ "$result" != PASS ] && [ "$result" != SKIP ] ||
		grep -qE 'Sanitizer|runtime error:' "$log"; then
		echo "==== _asan/build/$log"
		cat "$log"
	fi
done
sh "$top/tests/summary.sh" . >summary.out
sumrc=$?
tail -n 1 summary.out
[ "$status" = 0 ] && [ "$sumrc" = 0 ]
