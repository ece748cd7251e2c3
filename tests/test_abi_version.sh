#!/bin/sh
# test_abi_version.sh: the plugin ABI version is stated once, in <econtext/plugin.h>;
# configure's substitution, the built econtext.pc's and econtext-plugin.pc's plugin_abi
# and NEWS's newest "Plugin ABI X.Y" all say the same. The two pkg-config modules are
# usable alone: --cflags without the library's dependencies installed, econtext-plugin
# without -lecontext, its plugindir movable with --define-variable=prefix=DIR.
builddir=${EC_TEST_BUILDDIR:-.}
srcdir=${EC_TEST_SRCDIR:-.}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }

define() {
	sed -n "s/^#define $1[[:blank:]]*\([0-9][0-9]*\).*/\1/p" "$srcdir/core/include/econtext/plugin.h"
}
header=$(define EC_PLUGIN_ABI_MAJOR).$(define EC_PLUGIN_ABI_MINOR)
# What configure substitutes into the files it makes (config.status writes only to stdout).
configure=$(cd "$builddir" && echo '@EC_PLUGIN_ABI_MAJOR@.@EC_PLUGIN_ABI_MINOR@' |
	./config.status -q --file=-:-)
pc=$(sed -n 's/^plugin_abi=//p' "$builddir/econtext.pc")
ppc=$(sed -n 's/^plugin_abi=//p' "$builddir/econtext-plugin.pc")
# NEWS is newest first; an entry may wrap between "Plugin" and "ABI".
news=$(tr -s ' \n' '  ' <"$srcdir/NEWS" | grep -o 'Plugin ABI [0-9][0-9]*\.[0-9][0-9]*' |
	head -n 1 | sed 's/^Plugin ABI //')

echo "plugin.h $header, configure $configure, econtext.pc $pc, econtext-plugin.pc $ppc, NEWS $news"
case $header in
[0-9]*.[0-9]*) ok "plugin.h states the ABI version ($header)" ;;
*) bad "plugin.h: no '#define EC_PLUGIN_ABI_MAJOR/MINOR N' read ($header)" ;;
esac
[ "$configure" = "$header" ] && ok "configure substitutes $header" ||
	bad "configure substitutes '$configure', plugin.h says $header (rerun autogen.sh?)"
[ "$pc" = "$header" ] && ok "econtext.pc plugin_abi=$header" ||
	bad "econtext.pc says plugin_abi='$pc', plugin.h says $header"
[ "$ppc" = "$header" ] && ok "econtext-plugin.pc plugin_abi=$header" ||
	bad "econtext-plugin.pc says plugin_abi='$ppc', plugin.h says $header"
[ "$news" = "$header" ] && ok "NEWS's newest 'Plugin ABI' is $header" ||
	bad "NEWS's newest 'Plugin ABI' is '$news', plugin.h says $header"

# The modules as pkg-config reads them, with no other module in its path (as on a
# machine without libyaml-dev and the others).
skip=0
if command -v "${PKG_CONFIG:-pkg-config}" >/dev/null; then
	pc() { PKG_CONFIG_LIBDIR="$builddir" PKG_CONFIG_PATH= "${PKG_CONFIG:-pkg-config}" "$@"; }
	prefix=$(cd "$builddir" && echo '@prefix@' | ./config.status -q --file=-:-)
	out=$(pc --cflags econtext 2>&1) && ok "pkg-config --cflags econtext alone: $out" ||
		bad "pkg-config --cflags econtext fails without the dependencies' modules: $out"
	out=$(pc --cflags --libs econtext-plugin 2>&1)
	case "$? $out" in
	0*-lecontext*) bad "econtext-plugin hands a plugin -lecontext: $out" ;;
	0*-I*) ok "econtext-plugin: include flags only ($out)" ;;
	*) bad "pkg-config --cflags --libs econtext-plugin: $out" ;;
	esac
	out=$(pc --libs --static econtext 2>&1)
	case $out in
	*-lyaml*-lcrypto*) ok "econtext --static keeps the library's dependencies ($out)" ;;
	*) bad "pkg-config --libs --static econtext: $out" ;;
	esac
	pdir=$(pc --variable=plugindir econtext-plugin)
	moved=$(pc --define-variable=prefix=/opt/elsewhere --variable=plugindir econtext-plugin)
	case $pdir in
	"$prefix"/*) [ "$moved" = "/opt/elsewhere${pdir#"$prefix"}" ] &&
		ok "econtext-plugin plugindir $pdir, under prefix=/opt/elsewhere $moved" ||
		bad "econtext-plugin plugindir does not follow prefix: $pdir, moved: $moved" ;;
	*) bad "econtext-plugin plugindir $pdir is not under the prefix $prefix" ;;
	esac
	[ "$(pc --variable=plugin_abi econtext-plugin)" = "$header" ] &&
		ok "pkg-config --variable=plugin_abi econtext-plugin says $header" ||
		bad "pkg-config --variable=plugin_abi econtext-plugin: $(pc --variable=plugin_abi econtext-plugin)"
else
	echo "skip - no pkg-config: the modules as it reads them"
	skip=1
fi
echo "RESULT: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
