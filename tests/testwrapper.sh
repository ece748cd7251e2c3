#!/bin/sh
# Runs one test program under a deadline, and under valgrind when VALGRIND is set
# (VALGRIND="valgrind --leak-check=full --error-exitcode=3" make check).
# Usage (automake LOG_COMPILER): testwrapper.sh PROGRAM [ARGS...]
prog=$1
shift
limit=${EC_TEST_TIMEOUT:-900}
case "$prog" in
*.sh) exec timeout "$limit" sh "$prog" "$@" ;;
esac
if [ -n "$VALGRIND" ]; then
	exec timeout "$limit" ${LIBTOOL:-libtool} --mode=execute $VALGRIND "$prog" "$@"
fi
exec timeout "$limit" "$prog" "$@"
