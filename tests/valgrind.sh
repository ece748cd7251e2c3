#!/bin/sh
# The valgrind stage of the test suite: the unit tests and the local and sudo
# integration tests of the tree as built, each under valgrind's memcheck: invalid
# reads and writes, uninitialised values, and definite or indirect leaks at exit fail
# the program. The Python children are not traced (only the master is ours), nor the
# master's forks after the fork (--child-silent-after-fork).
# Prints each program's verdict, the log of each that failed, and as its last line
# tests/summary.sh's "N passed, N failed, N skipped" of those programs (their logs and
# verdicts in _valgrind/tests/, as automake's harness leaves them).
# Usage: tests/valgrind.sh  (from the top of a built tree). EC_VALGRIND_PYTHONS: the
# interpreters (default /usr/bin/python3).
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
fail() {
	echo "$1"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}
command -v valgrind >/dev/null 2>&1 || fail "valgrind: not installed (apt-get install valgrind)"
[ -x libtool ] || fail "valgrind: no libtool script here: configure and build first"
rm -rf _valgrind
mkdir -p _valgrind/tests
make -j"$(nproc 2>/dev/null || echo 2)" check TESTS= >_valgrind/make.out 2>&1 ||
	{ cat _valgrind/make.out; fail "valgrind: build failed"; }

EC_TEST_SRCDIR=$top
EC_TEST_BUILDDIR=$top
LIBTOOL="sh $top/libtool"
ECONTEXT_CONFIG=/dev/null
EC_TEST_PYTHONS=${EC_VALGRIND_PYTHONS:-/usr/bin/python3}
# Calls take ~20x longer under valgrind: deadlines in the tests are generous, but not
# the harness's.
EC_TEST_TIMEOUT=1800
VALGRIND="valgrind --quiet --error-exitcode=3 --leak-check=full \
--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
--child-silent-after-fork=yes --num-callers=30"
export EC_TEST_SRCDIR EC_TEST_BUILDDIR LIBTOOL ECONTEXT_CONFIG EC_TEST_PYTHONS \
	EC_TEST_TIMEOUT VALGRIND

# Not test_modfwd: it checks that a context importing a 12 MiB module does not stall
# another context's calls, which valgrind's one-thread-at-a-time scheduler does. Not
# the ssh tests: their sshd fixture's timeouts are not made for a 20x slower master.
# test_transfer's 1 GiB each way takes ~100 s here; its bounds on the master's RSS are
# skipped under valgrind, visibly (valgrind's own memory is most of it).
# Valgrind 3.19 does not know pidfd_open (syscall 434): its warning in the logs is
# harmless, the reaper polls instead (core/reaper.c).
for t in test_value test_frame test_broker test_reaper test_secret test_config test_plugin \
	test_local_plugin test_pickle test_modules test_child test_password test_allocfail \
	test_context test_local test_sudo test_prompt test_channel test_transfer; do
	log=_valgrind/tests/$t.log
	t0=$(date +%s)
	sh tests/testwrapper.sh "tests/$t" >"$log" 2>&1
	rc=$?
	case $rc in
	0) verdict=PASS ;;
	77) verdict=SKIP ;;
	*) verdict=FAIL ;;
	esac
	# what automake's harness writes, for tests/summary.sh to count
	echo ":test-result: $verdict" >"_valgrind/tests/$t.trs"
	echo "valgrind: $verdict: tests/$t (exit $rc, $(($(date +%s) - t0)) s)"
	if [ "$verdict" = FAIL ]; then
		echo "---- $log"
		tail -n 80 "$log"
	fi
done
sh tests/summary.sh _valgrind >_valgrind/summary.out
rc=$?
tail -n 1 _valgrind/summary.out
exit $rc
