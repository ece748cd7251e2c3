#!/bin/sh
# The fuzzing stage of the test suite: the libFuzzer targets of fuzz/ (fuzz_<target>.c),
# built with clang (-fsanitize=fuzzer,address,undefined) from the core's and plugins'
# sources directly, in _fuzz/. Each first replays its regression inputs
# (fuzz/regressions/<target>/: every crash found, kept) and its seed corpus
# (fuzz/corpus/<target>/), then fuzzes for FUZZ_SECONDS (default 60) from that corpus
# (new inputs go to _fuzz/corpus/<target>/, crashes to _fuzz/crashes/<target>/). A
# target that crashes, leaks, hangs or fails its own checks has failed: copy its crash
# file into fuzz/regressions/<target>/ once it is fixed. Without clang or its libFuzzer
# runtime every target is skipped, visibly. The last line: "N passed, N failed, N
# skipped" (tests/run-tests.sh adds it to its own).
# Usage: fuzz/run.sh [TARGET...]  (from the top of a configured and built tree).
# FUZZ_CC: the compiler (default clang).
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
secs=${FUZZ_SECONDS:-60}
cc=${FUZZ_CC:-clang}
all="frame pickle json config modsrv jsoncodec"
all="$all tlslisten"
all="$all channel"
all="$all transfer"
targets=${*:-$all}
n=$(echo $targets | wc -w)
skip() {
	echo "fuzz: SKIP: $1"
	echo "0 passed, 0 failed, $n skipped"
	exit 0
}
fail() {
	echo "fuzz: $1"
	echo "0 passed, $n failed, 0 skipped"
	exit 1
}
command -v "$cc" >/dev/null 2>&1 || skip "$cc is not installed (apt-get install clang libclang-rt-dev)"
[ -f Makefile ] && [ -f ecbuild.h ] || fail "configure and build the tree first"
mkdir -p _fuzz/obj
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ return (int)(d && n) * 0; }\n' \
	>_fuzz/probe.c
"$cc" -fsanitize=fuzzer $san _fuzz/probe.c -o _fuzz/probe >_fuzz/probe.out 2>&1 ||
	skip "$cc cannot build a libFuzzer target (apt-get install libclang-rt-dev): $(head -n 3 _fuzz/probe.out)"
make core/payload_data.c plugins/pickle/pickle_remote.c plugins/json/json_remote.c >_fuzz/make.out 2>&1 ||
	{ cat _fuzz/make.out; fail "make core/payload_data.c and the codecs' context sides failed"; }
mkvar() { sed -n "s/^$1 = //p" Makefile; }
cflags="-g -O1 -fno-omit-frame-pointer $san -fsanitize=fuzzer-no-link -pthread -DHAVE_CONFIG_H \
-I$top -I$top/core/include -I$top/core -DEC_PLUGINDIR=\"/nonexistent\" \
-DEC_SYSCONFDIR=\"/nonexistent\" -DEC_BUILDDIR=\"$top\" \
$(mkvar YAML_CFLAGS) $(mkvar ZLIB_CFLAGS) $(mkvar CRYPTO_CFLAGS) $(mkvar JANSSON_CFLAGS)"
libs="$(mkvar YAML_LIBS) $(mkvar ZLIB_LIBS) $(mkvar CRYPTO_LIBS) $(mkvar JANSSON_LIBS) -ldl -lm"
ssh=
if [ -f plugins/ssh/ssh.la ]; then # built: libssh2 is there
	ssh=1
	libs="$libs $(mkvar SSH2_LIBS)"
fi
tls=
if [ -f plugins/tls/tls.la ]; then # built (not --disable-tls): libssl is there
	tls=1
	cflags="$cflags $(mkvar SSL_CFLAGS)"
	libs="$(mkvar SSL_LIBS) $libs"
fi

# One archive a part: the core (all of core/ but the command) and each plugin the
# targets reach, so that a target takes only what it uses.
archive() { # NAME SOURCES...
	name=$1
	shift
	objs=
	for src in "$@"; do
		obj=_fuzz/obj/$name-$(basename "$src" .c).o
		# shellcheck disable=SC2086
		$cc $cflags $(mkvar SSH2_CFLAGS) -c "$src" -o "$obj" >>_fuzz/build.out 2>&1 || return 1
		objs="$objs $obj"
	done
	rm -f "_fuzz/lib$name.a"
	ar rcs "_fuzz/lib$name.a" $objs
}
: >_fuzz/build.out
core=$(ls core/*.c | grep -v '^core/cli\.c$')
archive core $core core/payload_data.c && archive pickle plugins/pickle/*.c && archive json plugins/json/*.c &&
	archive forms plugins/forms/*.c &&
	archive sudo plugins/sudo/*.c && { [ -z "$ssh" ] || archive ssh plugins/ssh/*.c; } &&
	{ [ -z "$tls" ] || archive tls plugins/tls/*.c; } || {
	tail -n 40 _fuzz/build.out
	fail "the sources did not build with $cc (_fuzz/build.out)"
}
plugins="_fuzz/libpickle.a _fuzz/libjson.a _fuzz/libforms.a _fuzz/libsudo.a${ssh:+ _fuzz/libssh.a}"
plugins="$plugins${tls:+ _fuzz/libtls.a}"

pass=0 failed=0 skipped=0
for t in $targets; do
	bin=_fuzz/fuzz_$t
	extra=
	[ "$t" = config ] && [ -n "$ssh" ] && extra=-DFUZZ_WITH_SSH
	if [ "$t" = tlslisten ]; then
		if [ -z "$tls" ]; then
			echo "fuzz: SKIP: tlslisten: the tls plugin is not built (configured --disable-tls)"
			skipped=$((skipped + 1))
			continue
		fi
		extra=-I$top/plugins/tls
	fi
	# shellcheck disable=SC2086
	if ! $cc $cflags -fsanitize=fuzzer $extra "fuzz/fuzz_$t.c" $plugins _fuzz/libcore.a $libs \
		-o "$bin" >"_fuzz/build-$t.out" 2>&1; then
		cat "_fuzz/build-$t.out"
		echo "fuzz: FAIL: $t does not build"
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "_fuzz/corpus/$t" "_fuzz/crashes/$t"
	opts="-timeout=120 -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix=_fuzz/crashes/$t/"
	log=_fuzz/$t.log
	# The regression inputs and the seeds, each run once without fuzzing.
	files=$(find "fuzz/regressions/$t" "fuzz/corpus/$t" -type f 2>/dev/null | sort)
	ok=1
	if [ -n "$files" ]; then
		# shellcheck disable=SC2086
		"$bin" $opts $files >"$log" 2>&1 || ok=0
	fi
	nfiles=$(echo $files | wc -w)
	if [ $ok = 1 ]; then
		# shellcheck disable=SC2086
		"$bin" $opts -max_total_time="$secs" "_fuzz/corpus/$t" "fuzz/corpus/$t" >>"$log" 2>&1 || ok=0
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	corpus=$(ls "_fuzz/corpus/$t" | wc -l)
	if [ $ok = 1 ]; then
		pass=$((pass + 1))
		echo "fuzz: PASS: $t: $nfiles kept inputs replayed, ${runs:-0} inputs in $secs s, $cov, $corpus new in _fuzz/corpus/$t"
	else
		failed=$((failed + 1))
		echo "fuzz: FAIL: $t ($log):"
		grep -A 40 -E '^==[0-9]+==ERROR|runtime error:|^fuzz_[a-z]+:|ALARM|Test unit written' "$log" | head -n 80
		ls "_fuzz/crashes/$t" | sed "s|^|  crash input: _fuzz/crashes/$t/|"
	fi
done
echo "$pass passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
