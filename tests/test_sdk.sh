#!/bin/sh
# test_sdk.sh: a plugin built as a third party builds it. This build tree is installed
# with `make install DESTDIR=`; the example transport examples/plugin-nice is copied
# out of the tree and built with its own Makefile, knowing econtext only through
# `pkg-config econtext-plugin` (the installed module, under PKG_CONFIG_SYSROOT_DIR);
# installed under a prefix of its own; loaded by the installed econtext through a
# config's plugin_path; and calls run through it. Skips without pkg-config, a C
# compiler, make or python3.
builddir=$(cd "${EC_TEST_BUILDDIR:-.}" && pwd)
srcdir=$(cd "${EC_TEST_SRCDIR:-.}" && pwd)
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }
for tool in "${PKG_CONFIG:-pkg-config}" "${CC:-cc}" make python3 nm; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
tmp=$(mktemp -d /tmp/ec_sdk.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# A make of our own, not the one running the tests (its jobserver and overrides).
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make "$@"; }

# 1. Install this build tree into a staging directory.
if mk -C "$builddir" install DESTDIR="$tmp/inst" >"$tmp/install.log" 2>&1; then
	ok "make install DESTDIR=$tmp/inst"
else
	bad "make install DESTDIR=$tmp/inst"; tail -20 "$tmp/install.log"
	echo "RESULT: $pass passed, $fail failed, 0 skipped"; exit 1
fi
pcfile=$(find "$tmp/inst" -name econtext-plugin.pc | head -n 1)
bin=$(find "$tmp/inst" -path '*/bin/econtext' | head -n 1)
lib=$(dirname "$(find "$tmp/inst" -name 'libecontext.so*' | head -n 1)")
plugins=$(dirname "$(find "$tmp/inst" -name pickle.so | head -n 1)")
[ -n "$pcfile" ] && [ -x "$bin" ] && [ -d "$lib" ] && [ -d "$plugins" ] &&
	ok "installed: $(echo "$pcfile" "$bin" | sed "s|$tmp/inst||g")" ||
	bad "installed files missing: pc '$pcfile', econtext '$bin', lib '$lib', plugins '$plugins'"
for h in econtext.h econtext/plugin.h econtext/transport.h econtext/codec.h \
	econtext/errors.h econtext/protocol.h econtext/version.h; do
	[ -n "$(find "$tmp/inst" -path "*/include/$h")" ] || bad "header $h not installed"
done
# What one who never sees the source tree reads: the man pages, the docs, the example.
for f in man1/econtext.1 man5/econtext.yaml.5 man7/econtext-plugin.7 plugin-guide.md \
	packaging.md examples/plugin-nice/Makefile examples/plugin-nice/nice.c; do
	[ -n "$(find "$tmp/inst" -path "*/$f")" ] && ok "installed */$f" || bad "*/$f not installed"
done

# 2. The example, alone in a directory of its own, against the staged installation.
cp -R "$srcdir/examples/plugin-nice" "$tmp/src"
chmod -R u+w "$tmp/src"
rm -f "$tmp/src/nice.so"
export PKG_CONFIG_LIBDIR="$(dirname "$pcfile")" PKG_CONFIG_PATH= PKG_CONFIG_SYSROOT_DIR="$tmp/inst"
if mk -C "$tmp/src" >"$tmp/build.log" 2>&1; then
	ok "examples/plugin-nice built out of tree: $(grep -- ' -o nice.so' "$tmp/build.log" | sed "s|$tmp|TMP|g")"
else
	bad "examples/plugin-nice does not build out of tree"; cat "$tmp/build.log"
fi
grep -q -- '-lecontext' "$tmp/build.log" && bad "the example links libecontext"
syms=$(nm -D --defined-only "$tmp/src/nice.so" 2>/dev/null | awk '$2 ~ /[TDBR]/ {print $3}')
[ "$syms" = ec_plugin_nice_describe ] && ok "nice.so exports only ec_plugin_nice_describe" ||
	bad "nice.so exports: $syms"
# Installed under a prefix of its own (pkg-config --define-variable=prefix=).
unset PKG_CONFIG_SYSROOT_DIR
if mk -C "$tmp/src" install PREFIX="$tmp/own" >"$tmp/own.log" 2>&1 &&
	own=$(dirname "$(find "$tmp/own" -name nice.so | head -n 1)") && [ "$own" != . ]; then
	ok "make install PREFIX=TMP/own: ${own#"$tmp"}/nice.so"
else
	bad "make install PREFIX=$tmp/own"; cat "$tmp/own.log"
	own=$tmp/src
fi

# 3. The installed econtext loads it through the config and runs calls through it.
cat >"$tmp/econtext.yaml" <<YAML
plugin_path: $own
contexts:
  background:
    transport: nice
    niceness: 7
  idle-io:
    transport: nice
    niceness: 3
    ionice_class: idle
  wrong:
    transport: nice
    ionice_class: sometimes
YAML
ec() {
	LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" EC_PLUGIN_PATH="$plugins" \
		ECONTEXT_CONFIG= "$bin" -c "$tmp/econtext.yaml" "$@"
}
base=$(nice)
want=$((base + 7 > 19 ? 19 : base + 7))
out=$(ec call background os.nice 0 2>"$tmp/err")
rc=$?
[ $rc = 0 ] && [ "$out" = "$want" ] && ok "econtext call background os.nice 0: $out (master's $base + 7)" ||
	{ bad "econtext call background os.nice 0: exit $rc, '$out', want $want"; cat "$tmp/err"; }
out=$(ec ping background 2>&1) && ok "econtext ping background: $out" ||
	bad "econtext ping background: $out"
if ionice -c 3 true 2>/dev/null; then
	out=$(ec call idle-io subprocess.check_output '["ionice"]' universal_newlines=true 2>"$tmp/err")
	[ "$out" = '"idle\n"' ] && ok "ionice_class: idle: the context's ionice says idle" ||
		{ bad "ionice_class: idle: '$out'"; cat "$tmp/err"; }
else
	echo "skip - ionice -c 3 does not work here"
fi
# The plugin's own check names the key's place; the core checks its schema's ranges.
out=$(ec call wrong os.nice 0 2>&1)
rc=$?
case "$rc $out" in
"3 "*econtext.yaml:12:*"ionice_class 'sometimes'"*) ok "the plugin's error: $out" ;;
*) bad "ionice_class: sometimes: exit $rc, $out" ;;
esac
out=$(ec -o niceness=40 call background os.nice 0 2>&1)
rc=$?
case "$rc $out" in
"3 "*"from -20 to 19"*) ok "the core checks the plugin's schema: $out" ;;
*) bad "niceness=40: exit $rc, $out" ;;
esac
echo "RESULT: $pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
