#!/bin/sh
# The Python module's pytest suite (tests/python/) with the Python configure chose, the
# module and library of this build. Prints pytest's totals as
# "RESULT: N passed, N failed, N skipped" (tests/summary.sh).
builddir=${EC_TEST_BUILDDIR:-.}
srcdir=${EC_TEST_SRCDIR:-.}
py=${EC_TEST_PYTHON:-}
skip() {
	echo "SKIP: $1"
	echo "RESULT: 0 passed, 0 failed, 1 skipped"
	exit 77
}
[ -n "$py" ] || skip "the Python module is not built (configure --without-python, or no Python headers)"
"$py" -c 'import pytest' 2>/dev/null || skip "pytest missing for $py (Debian package python3-pytest)"
mod=$(ls "$builddir"/python/.libs/econtext.so 2>/dev/null)
[ -n "$mod" ] || skip "python/.libs/econtext.so not built"
tmp=$(mktemp -d)
# ssh contexts: a private sshd (tests/sshd-fixture.sh); its FX_* reach the suite, which
# skips its ssh tests visibly without them
fx="$tmp/sshd"
trap 'sh "$srcdir/tests/sshd-fixture.sh" stop "$fx" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
if sh "$srcdir/tests/sshd-fixture.sh" start "$fx" >"$tmp/fx.log" 2>&1; then
	set -a
	. "$fx/env.sh"
	set +a
else
	echo "no sshd fixture (ssh tests skip): $(tail -n 3 "$tmp/fx.log")"
fi
PYTHONPATH="$builddir/python/.libs${PYTHONPATH:+:$PYTHONPATH}"
LD_LIBRARY_PATH="$builddir/core/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ECONTEXT_CONFIG=/dev/null
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH LD_LIBRARY_PATH ECONTEXT_CONFIG PYTHONDONTWRITEBYTECODE EC_TEST_SRCDIR="$srcdir"
# A module built with AddressSanitizer (tests/sanitize.sh) loads into an uninstrumented
# python only with the sanitizer runtimes first: preloaded. LeakSanitizer would report
# the interpreter's own allocations: off (test_no_leaks counts objects instead).
preload=
san=$(ldd "$mod" 2>/dev/null | awk '/lib(asan|ubsan)\.so/ { print $3 }' | tr '\n' ' ' | sed 's/ $//')
case $san in
*asan*)
	echo "sanitizers in the module: preloading $san"
	# for pytest only: procps' ps, used by the fixture's teardown, hangs with it
	preload="LD_PRELOAD=$san"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	EC_TEST_ASAN=1
	export ASAN_OPTIONS EC_TEST_ASAN
	;;
esac
env ${preload:+"$preload"} "$py" -m pytest -p no:cacheprovider -rs -v "$srcdir/tests/python" --junitxml="$tmp/junit.xml" "$@"
rc=$?
# the totals from pytest's own report
"$py" - "$tmp/junit.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception as e:
    print("RESULT: 0 passed, 1 failed, 0 skipped  (no pytest report: %s)" % e)
    sys.exit(0)
suites = [root] if root.tag == "testsuite" else list(root)
n = lambda k: sum(int(s.get(k, 0)) for s in suites)
failed = n("failures") + n("errors")
skipped = n("skipped")
print("RESULT: %d passed, %d failed, %d skipped" % (n("tests") - failed - skipped, failed, skipped))
PY
exit $rc
