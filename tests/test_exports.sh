#!/bin/sh
# test_exports.sh: the library exports only ec_*, each plugin only its entry symbol,
# and each installed header compiles alone as strict C11.
builddir=${EC_TEST_BUILDDIR:-.}
srcdir=${EC_TEST_SRCDIR:-.}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }
lib=$(ls "$builddir"/core/.libs/libecontext.so.* 2>/dev/null | head -n 1)
if [ -z "$lib" ]; then echo "SKIP: no shared library"; exit 77; fi
others=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^ec_' | grep -v '^ECONTEXT_')
[ -z "$others" ] && ok "libecontext exports only ec_*" || { bad "libecontext exports: $others"; }
for so in "$builddir"/plugins/*/.libs/*.so; do
	name=$(basename "$so" .so)
	syms=$(nm -D --defined-only "$so" | awk '$2 ~ /[TDBR]/ {print $3}')
	[ "$syms" = "ec_plugin_${name}_describe" ] && ok "$name.so exports only its entry symbol" ||
		bad "$name.so exports: $syms"
done
for h in econtext.h econtext/errors.h econtext/plugin.h econtext/codec.h econtext/transport.h \
	econtext/protocol.h; do
	printf '#include <%s>\nint main(void) { return 0; }\n' "$h" >/tmp/ec_hdr_$$.c
	if ${CC:-cc} -std=c11 -Wall -Wextra -Werror -pedantic -I"$srcdir/core/include" \
		-I"$builddir/core/include" -c /tmp/ec_hdr_$$.c -o /tmp/ec_hdr_$$.o 2>/tmp/ec_hdr_$$.err; then
		ok "$h compiles alone"
	else
		bad "$h compiles alone"; cat /tmp/ec_hdr_$$.err
	fi
done
rm -f /tmp/ec_hdr_$$.*
# docs/errors.md lists every code of EC_ERRNO_MAP with its value and description.
missing=$(sed -n 's/.*XX(\([A-Z]*\), \(-[0-9]*\), "\(.*\)").*/| EC_\1 | \2 | \3 |/p' \
	"$srcdir/core/include/econtext/errors.h" | while IFS= read -r row; do
	grep -qxF "$row" "$srcdir/docs/errors.md" || echo "$row"; done)
[ -z "$missing" ] && ok "docs/errors.md matches EC_ERRNO_MAP" || bad "docs/errors.md lacks: $missing"
echo "RESULT: $pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
