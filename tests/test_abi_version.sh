#!/bin/sh
# test_abi_version.sh: the plugin ABI version is stated once, in <econtext/plugin.h>;
# configure's substitution, the built econtext.pc's plugin_abi and NEWS's newest
# "Plugin ABI X.Y" all say the same.
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
# NEWS is newest first; an entry may wrap between "Plugin" and "ABI".
news=$(tr -s ' \n' '  ' <"$srcdir/NEWS" | grep -o 'Plugin ABI [0-9][0-9]*\.[0-9][0-9]*' |
	head -n 1 | sed 's/^Plugin ABI //')

echo "plugin.h $header, configure $configure, econtext.pc $pc, NEWS $news"
case $header in
[0-9]*.[0-9]*) ok "plugin.h states the ABI version ($header)" ;;
*) bad "plugin.h: no '#define EC_PLUGIN_ABI_MAJOR/MINOR N' read ($header)" ;;
esac
[ "$configure" = "$header" ] && ok "configure substitutes $header" ||
	bad "configure substitutes '$configure', plugin.h says $header (rerun autogen.sh?)"
[ "$pc" = "$header" ] && ok "econtext.pc plugin_abi=$header" ||
	bad "econtext.pc says plugin_abi='$pc', plugin.h says $header"
[ "$news" = "$header" ] && ok "NEWS's newest 'Plugin ABI' is $header" ||
	bad "NEWS's newest 'Plugin ABI' is '$news', plugin.h says $header"
echo "RESULT: $pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
