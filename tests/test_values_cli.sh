#!/bin/sh
# test_values_cli.sh: the JSON the econtext command prints for each kind of value
# (docs/values.md), checked against the forms recorded in tests/data/values/cli.expected,
# and `jq .st_size` on a stat result where jq is installed.
builddir=${EC_TEST_BUILDDIR:-.}
srcdir=${EC_TEST_SRCDIR:-.}
ec="$builddir/econtext"
export ECONTEXT_CONFIG=/dev/null
py=
for p in "$HOME"/.pyenv/versions/3.11*/bin/python /root/.pyenv/versions/3.1*/bin/python /usr/bin/python3; do
	[ -x "$p" ] && { py=$p; break; }
done
if [ -z "$py" ]; then
	echo "SKIP: no python3 interpreter"
	exit 77
fi
echo "using $py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; sed 's/^/    /' "$tmp/out" "$tmp/err" | head -n 10; }
tab=$(printf '\t')
while IFS="$tab" read -r args want; do
	case $args in '#'*|'') continue ;; esac
	eval "set -- $args"
	"$ec" -o "python=$py" call local "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	case $want in
	'! '*)
		[ "$rc" = 1 ] && grep -qF -- "${want#! }" "$tmp/err" && ok "$args: refused" ||
			bad "$args: wanted exit 1 and \"${want#! }\", got exit $rc" ;;
	*)
		[ "$rc" = 0 ] && [ "$(cat "$tmp/out")" = "$want" ] && ok "$args: $want" ||
			bad "$args: wanted $want" ;;
	esac
done <"$srcdir/tests/data/values/cli.expected"
# A file of the test's own: /etc/passwd changes while other tests (sudo fixtures) run.
printf '%1381s' x >"$tmp/stat-me"
size=1381
"$ec" -o "python=$py" call local os.stat "$tmp/stat-me" >"$tmp/out" 2>"$tmp/err"
grep -q "\"st_size\": $size," "$tmp/out" && ok "os.stat prints st_size by name" || bad "os.stat st_size"
if command -v jq >/dev/null 2>&1; then
	[ "$(jq .st_size "$tmp/out")" = "$size" ] && ok "jq .st_size" || bad "jq .st_size"
fi
echo "RESULT: $pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
