#!/bin/sh
# Runs one test program under a deadline, and under valgrind when VALGRIND is set
# (VALGRIND="valgrind --leak-check=full --error-exitcode=3" make check).
# Usage (automake LOG_COMPILER): testwrapper.sh PROGRAM [ARGS...]
prog=$1
shift
limit=${EC_TEST_TIMEOUT:-900}
# A test that needs a plugin this build left out (configure --disable-NAME, listed in
# EC_TEST_DISABLED_PLUGINS) is skipped: the unit and build tests need none, the sudo
# tests sudo, the tls tests tls, the value tests json too, every other test runs contexts (local transport, pickle codec). The ssh
# tests are built only with ssh.
if [ -n "${EC_TEST_DISABLED_PLUGINS:-}" ]; then
	name=$(basename "$prog" .sh)
	case $name in
	test_value | test_frame | test_broker | test_reaper | test_secret | test_password | \
		test_modules | test_child | test_pickle | test_local_plugin | test_allocfail | \
		test_abi_version | test_configure_clean | test_configure_disable | test_layers | \
		test_payload | test_fuzz_replay | test_exports | test_man) needs= ;;
	*sudo* | *prompt*) needs="local pickle sudo" ;;
	*tls*) needs="local pickle tls" ;;
	test_values | test_local | test_cli) needs="local pickle json" ;;
	*) needs="local pickle" ;;
	esac
	for p in $needs; do
		case " $EC_TEST_DISABLED_PLUGINS " in
		*" $p "*)
			echo "SKIP: $name needs the $p plugin, left out of this build (configure --disable-$p)"
			exit 77
			;;
		esac
	done
fi
case "$prog" in
*.sh) exec timeout "$limit" sh "$prog" "$@" ;;
esac
if [ -n "$VALGRIND" ]; then
	exec timeout "$limit" ${LIBTOOL:-libtool} --mode=execute $VALGRIND "$prog" "$@"
fi
exec timeout "$limit" "$prog" "$@"
