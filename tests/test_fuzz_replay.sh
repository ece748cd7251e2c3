#!/bin/sh
# test_fuzz_replay.sh: every fuzz target of fuzz/ run once on each of its kept inputs
# (fuzz/regressions/<target>/: the crashes fuzzing found, fixed since) and its seeds
# (fuzz/corpus/<target>/), built with the ordinary compiler (fuzz/replay.c): a finding
# aborts its program. fuzz/run.sh fuzzes them with clang.
set -u
src=${EC_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${EC_TEST_BUILDDIR:-$src}
status=0
targets="frame pickle json config modsrv jsoncodec"
targets="$targets channel"
targets="$targets transfer"
targets="$targets tlslisten"
for t in $targets; do
	if [ "$t" = tlslisten ]; then # the tls plugin's listener: only when it is built
		case " ${EC_TEST_DISABLED_PLUGINS:-} " in
		*" tls "*)
			echo "SKIP: $t (the tls plugin is left out of this build: configure --disable-tls)"
			continue
			;;
		esac
		if [ ! -x "$build/fuzz/replay_$t" ]; then
			echo "SKIP: $t (fuzz/replay_$t is not built)"
			continue
		fi
	fi
	if "$build/fuzz/replay_$t" "$src/fuzz/regressions/$t" "$src/fuzz/corpus/$t"; then
		echo "PASS: $t"
	else
		echo "FAIL: $t (exit $?)"
		status=1
	fi
done
exit $status
