#!/bin/sh
# test_packaging.sh: the Debian packages of packaging/debian/ build, install and work.
# A stage of tests/run-tests.sh (EC_SKIP_PACKAGING=1 skips it), not of `make check`: it
# installs packages on this system, as root. Steps: the distributed tree (`make distdir`
# of this configured tree, or `git archive HEAD` in an unconfigured checkout) is copied
# to a temporary directory, packaging/debian linked as debian/, and built with
# `dpkg-buildpackage -us -uc -b` (DEB_BUILD_OPTIONS=nocheck: the tests ran already);
# the packages are checked by lintian (no error; each warning's tag must be explained in
# docs/packaging.md), installed with dpkg -i, and used: `econtext call local
# platform.python_version`, and examples/plugin-nice built against the installed
# libecontext-dev with nothing but `pkg-config econtext-plugin`, loaded by the installed
# command through a config and called. The packages are purged afterwards, also on
# failure. Skips (exit 77) when not root, without dpkg-buildpackage, debhelper or
# lintian, or when one of the packages is installed already (it is not ours to remove).
# Last line: "N passed, N failed, N skipped".
# Usage: sh tests/test_packaging.sh  (from the top of a configured tree or a checkout)
srcdir=$(cd "${EC_TEST_SRCDIR:-$(dirname "$0")/..}" && pwd)
builddir=$(cd "${EC_TEST_BUILDDIR:-$srcdir}" && pwd)
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }
skip() {
	echo "SKIP: $1"
	echo "0 passed, 0 failed, 1 skipped"
	exit 77
}
finish() {
	echo "$pass passed, $fail failed, 0 skipped"
	[ "$fail" = 0 ]
	exit
}
[ "$(id -u)" = 0 ] || skip "not root (the packages are installed with dpkg -i)"
for tool in dpkg-buildpackage dh lintian dpkg make pkg-config "${CC:-cc}" python3; do
	command -v "$tool" >/dev/null || skip "no $tool (dpkg-dev, debhelper, lintian, build-essential, pkg-config, python3)"
done
pkgs=$(sed -n 's/^Package: *//p' "$srcdir/packaging/debian/control")
[ -n "$pkgs" ] || { bad "no Package: in $srcdir/packaging/debian/control"; finish; }
for p in $pkgs; do
	if dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'installed$'; then
		skip "$p is installed already: not removing a package this test did not install"
	fi
done

tmp=$(mktemp -d /tmp/ec_pkg.XXXXXX)
installed=
cleanup() {
	if [ -n "$installed" ]; then
		# shellcheck disable=SC2086
		dpkg --purge $pkgs >"$tmp/purge.log" 2>&1 || cat "$tmp/purge.log"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make "$@"; }
version=$(sed -n '1s/^econtext (\([^-)]*\).*/\1/p' "$srcdir/packaging/debian/changelog")
src=$tmp/econtext-$version

# 1. A copy of the tree, as a tarball would have it.
if [ -f "$builddir/Makefile" ]; then
	how="make distdir"
	mk -C "$builddir" distdir distdir="$src" >"$tmp/copy.log" 2>&1
elif [ -d "$srcdir/.git" ] && command -v git >/dev/null; then
	how="git archive HEAD"
	mkdir "$src" && git -C "$srcdir" archive HEAD | tar -x -C "$src" 2>"$tmp/copy.log"
else
	skip "$builddir is neither configured nor a git checkout: nothing to copy the tree with"
fi
if [ $? = 0 ] && [ -f "$src/packaging/debian/control" ]; then
	ok "the tree copied ($how) to $src"
else
	bad "copying the tree ($how)"; tail -20 "$tmp/copy.log"; finish
fi
ln -s packaging/debian "$src/debian"

# 2. The binary packages.
t0=$(date +%s)
if (cd "$src" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=$(nproc 2>/dev/null || echo 2)" \
	dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1); then
	ok "dpkg-buildpackage -us -uc -b ($(($(date +%s) - t0)) s): $(cd "$tmp" && echo *.deb)"
else
	bad "dpkg-buildpackage -us -uc -b"; tail -40 "$tmp/build.log"; finish
fi
for p in $pkgs; do
	[ -f "$(echo "$tmp/${p}_"*.deb)" ] || bad "no package $p built"
done

# 3. lintian: no error; every warning explained in docs/packaging.md.
lintian --pedantic -I -E "$tmp"/*.changes >"$tmp/lintian.log" 2>&1
grep -E '^[EWIPX]: ' "$tmp/lintian.log" | sed 's/^/  lintian: /'
errors=$(grep -c '^E: ' "$tmp/lintian.log")
[ "$errors" = 0 ] && ok "lintian: no errors" || bad "lintian: $errors errors"
for tag in $(sed -n 's/^W: [^:]*: \([a-z0-9-]*\).*/\1/p' "$tmp/lintian.log" | sort -u); do
	grep -q -- "\`$tag\`" "$srcdir/docs/packaging.md" &&
		ok "lintian warning $tag: explained in docs/packaging.md" ||
		bad "lintian warning $tag: fix it or explain it in docs/packaging.md"
done

# 4. Installed.
installed=yes
if dpkg -i "$tmp"/*.deb >"$tmp/install.log" 2>&1; then
	ok "dpkg -i: $(echo $pkgs)"
else
	bad "dpkg -i"; cat "$tmp/install.log"; finish
fi

# 5. The installed command, its plugins found where the package put them (the build
# tree gone: nothing of it can stand in).
rm -rf "$src"
out=$(cd / && env -u EC_PLUGIN_PATH ECONTEXT_CONFIG=/dev/null /usr/bin/econtext call local \
	platform.python_version 2>"$tmp/call.err")
rc=$?
case "$rc $out" in
0\ \"[23].*\") ok "/usr/bin/econtext call local platform.python_version: $out" ;;
*) bad "/usr/bin/econtext call local platform.python_version: exit $rc, '$out'"; cat "$tmp/call.err" ;;
esac
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
# The Python module from python3-econtext, with the system's python3 and nothing else.
out=$(cd / && env -u PYTHONPATH ECONTEXT_CONFIG=/dev/null /usr/bin/python3 -c '
import econtext, platform
with econtext.Master() as m:
    print(m.connect("local").call(platform.python_version))' 2>"$tmp/py.err")
case "$out" in
[23].*) ok "python3-econtext: econtext.Master().connect(\"local\").call(platform.python_version): $out" ;;
*) bad "python3-econtext: '$out'"; cat "$tmp/py.err" ;;
esac
for so in local pickle sudo ssh json tls; do
	[ -f "/usr/lib/$multiarch/econtext/plugins/$so.so" ] || bad "plugin $so.so not installed"
done

# 6. A third-party plugin against the installed -dev package: pkg-config econtext-plugin
# from the system's own pkg-config path, nothing of the build tree.
cp -R "$srcdir/examples/plugin-nice" "$tmp/nice"
chmod -R u+w "$tmp/nice"
rm -f "$tmp/nice/nice.so"
if (cd "$tmp/nice" && env -u PKG_CONFIG_PATH -u PKG_CONFIG_LIBDIR -u PKG_CONFIG_SYSROOT_DIR \
	-u MAKEFLAGS -u MFLAGS -u MAKELEVEL make >"$tmp/nice.log" 2>&1); then
	ok "examples/plugin-nice built against libecontext-dev: $(grep -- ' -o nice.so' "$tmp/nice.log" | sed "s|$tmp|TMP|g")"
	printf 'plugin_path: %s\ncontexts:\n  background:\n    transport: nice\n    niceness: 5\n' \
		"$tmp/nice" >"$tmp/econtext.yaml"
	base=$(nice)
	want=$((base + 5 > 19 ? 19 : base + 5))
	out=$(cd / && env -u EC_PLUGIN_PATH /usr/bin/econtext -c "$tmp/econtext.yaml" call background \
		os.nice 0 2>"$tmp/nice.err")
	[ "$out" = "$want" ] && ok "the installed econtext loads it: call background os.nice 0: $out" ||
		{ bad "call background os.nice 0 through nice.so: '$out', want $want"; cat "$tmp/nice.err"; }
else
	bad "examples/plugin-nice against libecontext-dev"; cat "$tmp/nice.log"
fi

# 7. Removed again (the trap purges them too, on any failure above).
# shellcheck disable=SC2086
if dpkg --purge $pkgs >"$tmp/purge.log" 2>&1 && [ ! -e /usr/bin/econtext ]; then
	installed=
	ok "dpkg --purge: $(echo $pkgs)"
else
	bad "dpkg --purge"; cat "$tmp/purge.log"
fi
finish
