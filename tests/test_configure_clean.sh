#!/bin/sh
# test_configure_clean.sh: configure cleaned up after itself in the build tree. Its exit
# trap used to stop at `rm -f core` (our core/ directory) and leave confdefs.h and
# conftest* behind; configure.ac's EC_SPARE_CORE_DIR keeps it going.
builddir=${EC_TEST_BUILDDIR:-.}
left=$(cd "$builddir" && ls -d confdefs.h conftest* 2>/dev/null)
if [ -z "$left" ]; then
	echo "ok - configure left no confdefs.h, conftest*"
	echo "RESULT: 1 passed, 0 failed, 0 skipped"
else
	echo "FAIL - configure left: $left"
	echo "RESULT: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
