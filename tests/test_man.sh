#!/bin/sh
# test_man.sh: the man pages cannot drift from the command. Every command and option
# `econtext --help` shows is in econtext(1)'s SYNOPSIS and OPTIONS, every exit status it
# names in EXIT STATUS; every top-level key the config loader knows (its "known keys"
# list) and every key of docs/config.md's key tables is in econtext.yaml(5); the pages
# are made and, where groff is, render without warnings.
builddir=${EC_TEST_BUILDDIR:-.}
srcdir=${EC_TEST_SRCDIR:-.}
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }
tmp=$(mktemp -d /tmp/ec_man.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
man1=$builddir/man/econtext.1 man5=$builddir/man/econtext.yaml.5 man7=$builddir/man/econtext-plugin.7
for m in "$man1" "$man5" "$man7"; do
	[ -s "$m" ] && ok "$(basename "$m") made" || bad "$m not made"
	grep -q '@[a-zA-Z_]*@' "$m" && bad "$(basename "$m") has an unsubstituted @VAR@"
done
# A page as plain text: font escapes gone, \- as -, section headings as they read.
plain() { sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e "s/\\\\(aq/'/g" -e 's/\\e/\\/g' "$1"; }
# The lines of section $2 (.SH NAME up to the next .SH) of page $1.
section() { plain "$1" | awk -v s=".SH $2" '/^\.SH /{on = ($0 == s || $0 == s "\"")} on'; }
has() { grep -qE -- "(^|[^a-zA-Z_-])$1([^a-zA-Z_-]|\$)"; }

help=$("$builddir/econtext" --help 2>&1) || { bad "econtext --help fails"; }
cmds=$(printf '%s\n' "$help" | sed -n 's/^\(usage:\)\{0,1\} *econtext \[OPTIONS\] \([a-z]*\) .*/\2/p' | sort -u)
[ -n "$cmds" ] || bad "no command read from econtext --help"
for c in $cmds; do
	section "$man1" SYNOPSIS | has "$c" && ok "econtext.1 SYNOPSIS: $c" || bad "econtext.1 SYNOPSIS lacks the command $c"
	section "$man1" COMMANDS | grep -q "^\.B $c" && ok "econtext.1 COMMANDS: $c" ||
		bad "econtext.1 COMMANDS lacks the command $c"
done
opts=$(printf '%s\n' "$help" | grep -E '^ +-' | grep -oE -- '(^|[ ,])--?[a-zA-Z][a-zA-Z-]*' |
	sed 's/^[ ,]*//' | sort -u)
[ -n "$opts" ] || bad "no option read from econtext --help"
for o in $opts; do
	section "$man1" OPTIONS | grep -E '^\.(B|BR|TP)' | has "$o" && ok "econtext.1 OPTIONS: $o" ||
		bad "econtext.1 OPTIONS lacks $o"
done
codes=$(printf '%s\n' "$help" | sed -n '/^exit status/,/^$/p' | grep -oE '(^|[ (])[0-9]+' | tr -d ' (' | sort -un)
[ -n "$codes" ] || bad "no exit status read from econtext --help"
for n in $codes; do
	section "$man1" "EXIT STATUS" | grep -E '^\.(B|BR) ' | has "$n" && ok "econtext.1 EXIT STATUS: $n" ||
		bad "econtext.1 EXIT STATUS lacks $n"
done

# The config loader's own list of top-level keys.
printf 'no_such_key_for_test_man: 1\n' >"$tmp/unknown.yaml"
err=$("$builddir/econtext" -c "$tmp/unknown.yaml" ping local 2>&1)
keys=$(printf '%s\n' "$err" | sed -n 's/.*(known keys: \(.*\))$/\1/p' | tr -d ',')
[ -n "$keys" ] || bad "no known keys in the loader's error: $err"
for k in $keys; do
	section "$man5" "TOP-LEVEL KEYS" | grep -qx "\.B $k" && ok "econtext.yaml.5 TOP-LEVEL KEYS: $k" ||
		bad "econtext.yaml.5 TOP-LEVEL KEYS lacks $k"
done
# Every key of docs/config.md's "| key |" tables (top level, contexts, each transport).
dockeys=$(awk '/^\| key \|/ {t = 1; next} /^\|/ && t {print} !/^\|/ {t = 0}' "$srcdir/docs/config.md" |
	sed -n 's/^| `\([a-z_]*\)` |.*/\1/p' | sort -u)
[ -n "$dockeys" ] || bad "no keys read from docs/config.md's tables"
missing=
for k in $dockeys; do
	plain "$man5" | grep -qx "\.B $k" || missing="$missing $k"
done
[ -z "$missing" ] && ok "econtext.yaml.5 has docs/config.md's $(echo $dockeys | wc -w) keys" ||
	bad "econtext.yaml.5 lacks docs/config.md's keys:$missing"

if command -v groff >/dev/null; then
	for m in "$man1" "$man5" "$man7"; do
		w=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$m" 2>&1)
		[ -z "$w" ] && ok "$(basename "$m") renders without warnings" || bad "$(basename "$m"): $w"
	done
else
	echo "skip - no groff: the pages are not rendered"
	skip=1
fi
echo "RESULT: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
