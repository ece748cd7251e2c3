#!/bin/sh
# test_configure_disable.sh: the tarball builds with --disable-NAME for each plugin, and
# configure fails clearly when a plugin asked for has no dependency. The plugins are
# those `configure --help` offers to disable (m4/ec_plugin.m4). The distributed tree
# (`make distdir`) is configured out of tree in a temporary directory once per plugin,
# that plugin disabled, and built (`make all`: the library, the command and the other
# plugins). One build directory serves every round (a configure cache, objects kept),
# so only the first round compiles everything (at -O0). Then ssh's libssh2 is hidden from
# pkg-config: configure leaves ssh out by default and stops on --enable-ssh.
builddir=$(cd "${EC_TEST_BUILDDIR:-.}" && pwd)
srcdir=$(cd "${EC_TEST_SRCDIR:-.}" && pwd)
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }
for tool in make "${CC:-cc}" "${PKG_CONFIG:-pkg-config}"; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
[ -f "$builddir/Makefile" ] || { echo "SKIP: $builddir is not a configured build tree"; exit 77; }
tmp=$(mktemp -d /tmp/ec_cfgdis.XXXXXX)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make "$@"; }
jobs=2

# The tarball's tree, without making the tarball.
if ! mk -C "$builddir" distdir distdir="$tmp/src" >"$tmp/distdir.log" 2>&1; then
	bad "make distdir"; tail -20 "$tmp/distdir.log"
	echo "RESULT: $pass passed, $fail failed, 0 skipped"; exit 1
fi
plugins=$(sh "$tmp/src/configure" --help |
	sed -n 's/^ *--disable-\([a-z0-9-]*\)  *do not build the \1 .*plugin.*/\1/p')
[ -n "$plugins" ] && ok "configure --help offers --disable- for: $(echo $plugins)" ||
	{ bad "configure --help offers no --disable-PLUGIN"; plugins=; }

mkdir "$tmp/build"
for p in $plugins; do
	if ! (cd "$tmp/build" && sh "$tmp/src/configure" -C --disable-tests --disable-"$p" CFLAGS=-O0 \
		>"$tmp/configure-$p.log" 2>&1); then
		bad "configure --disable-$p"; tail -20 "$tmp/configure-$p.log"; continue
	fi
	summary=$(sed -n "s/^ *$p  *[a-z]*  *\(no: --disable-$p\)\$/\1/p" "$tmp/configure-$p.log")
	[ -n "$summary" ] && ok "configure --disable-$p: summary says '$p ... $summary'" ||
		bad "configure --disable-$p: no '$p ... no: --disable-$p' in its summary"
	built=$(sed -n 's/^EC_PLUGINS_BUILT = //p' "$tmp/build/Makefile")
	# Nothing left over from the round before: the plugins are built afresh.
	rm -rf "$tmp/build/plugins"
	if ! mk -C "$tmp/build" -j"$jobs" all >"$tmp/make-$p.log" 2>&1; then
		bad "make all with --disable-$p"; tail -30 "$tmp/make-$p.log"; continue
	fi
	have=$(cd "$tmp/build" && for f in plugins/*/.libs/*.so; do
		[ -f "$f" ] && basename "$f" .so; done | sort | tr '\n' ' ')
	want=$(echo $built | tr ' ' '\n' | sort | tr '\n' ' ')
	if [ -x "$tmp/build/econtext" ] && [ -n "$(ls "$tmp/build/core/.libs/"libecontext.so.* 2>/dev/null)" ] &&
		[ "$have" = "$want" ] && ! echo " $have" | grep -q " $p "; then
		ok "--disable-$p: built the library, the command and the plugins: ${have:-none}"
	else
		bad "--disable-$p: plugins built '$have', configure said '$want'"
	fi
done

# A dependency that is missing: a pkg-config that does not know libssh2.
real_pc=$(command -v "${PKG_CONFIG:-pkg-config}")
cat >"$tmp/pkg-config" <<EOF
#!/bin/sh
case "\$*" in *libssh2*) echo "Package libssh2 was not found (hidden by $0)" >&2; exit 1 ;; esac
exec "$real_pc" "\$@"
EOF
chmod +x "$tmp/pkg-config"
mkdir "$tmp/nossh"
if (cd "$tmp/nossh" && sh "$tmp/src/configure" --disable-tests PKG_CONFIG="$tmp/pkg-config" \
	>"$tmp/nossh.log" 2>&1); then
	grep -E '^ *ssh  *transport  *no: libssh2 >= 1.10 not found \(Debian package libssh2-1-dev\)$' \
		"$tmp/nossh.log" >/dev/null &&
		ok "libssh2 missing: configure goes on, summary: $(grep -E '^ *ssh  *transport' "$tmp/nossh.log" | sed 's/^ *//')" ||
		{ bad "libssh2 missing: the summary does not say why ssh is left out"; tail -12 "$tmp/nossh.log"; }
else
	bad "libssh2 missing: configure failed without --enable-ssh"; tail -5 "$tmp/nossh.log"
fi
if (cd "$tmp/nossh" && sh "$tmp/src/configure" --disable-tests --enable-ssh PKG_CONFIG="$tmp/pkg-config" \
	>"$tmp/enssh.log" 2>&1); then
	bad "libssh2 missing: configure --enable-ssh succeeded"
else
	msg=$(grep 'configure: error:' "$tmp/enssh.log")
	echo "$msg" | grep -q -- '--enable-ssh: .*libssh2 >= 1.10.*libssh2-1-dev.*--disable-ssh' &&
		ok "libssh2 missing: configure --enable-ssh fails: $msg" ||
		bad "libssh2 missing: configure --enable-ssh fails, but not clearly: $msg"
fi
echo "RESULT: $pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
