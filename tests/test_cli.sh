#!/bin/sh
# test_cli.sh: the econtext command as a user runs it: results as JSON, arguments,
# remote exceptions, deadlines, the log format, and the errors of bad input.
builddir=${EC_TEST_BUILDDIR:-.}
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
bad() { fail=$((fail + 1)); echo "FAIL - $1"; sed 's/^/    /' "$tmp/out" "$tmp/err" 2>/dev/null | head -n 20; }
# run CODE DESC CMD...: expect exit CODE
run() {
	want=$1 desc=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" = "$want" ]; then ok "$desc"; return 0; fi
	echo "    exit $got, wanted $want"
	bad "$desc"
	return 1
}
expect_out() { grep -q -- "$1" "$tmp/out" && ok "$2" || bad "$2"; }
expect_err() { grep -q -- "$1" "$tmp/err" && ok "$2" || bad "$2"; }

run 0 "--version" "$ec" --version && expect_out "^econtext [0-9]" "version printed"
ver=$("$py" -c 'import platform; print(platform.python_version())')
run 0 "call platform.python_version" "$ec" -o "python=$py" call local platform.python_version &&
	expect_out "^\"$ver\"\$" "result is one line of JSON"
run 0 "JSON args and kwargs" "$ec" -o "python=$py" call local json.dumps '[1, "a", {"k": null}]' sort_keys=true &&
	expect_out '^"\[1, \\"a\\", {\\"k\\": null}\]"$' "args decoded as JSON, kwargs bound"
run 0 "a non-JSON argument is a string" "$ec" -o "python=$py" call local os.path.join /tmp hello &&
	expect_out '^"/tmp/hello"$' "strings passed through"
run 0 "big int result" "$ec" -o "python=$py" call local operator.pow 3 80 &&
	expect_out '^147808829414345923316083210206383297601$' "exact big int"
run 1 "remote exception exits 1" "$ec" -o "python=$py" call local os.stat /nonexistent/x &&
	expect_err "Traceback (most recent call last)" "remote traceback on stderr" &&
	expect_err "raised builtins.FileNotFoundError" "exception type named"
# --timeout bounds the connection too: 5 s, which only a broken boot takes.
run 5 "--timeout expires" "$ec" -o "python=$py" --timeout 5 call local time.sleep 600 &&
	expect_err "did not return within" "deadline message"
run 0 "stdout of a child is logged" "$ec" -o "python=$py" call local os.system "echo hello-cli" &&
	grep -Eq '^[0-9]{2}:[0-9]{2}:[0-9]{2} I econtext.ctx.local.stdout: hello-cli$' "$tmp/err" &&
	ok "log line format HH:MM:SS L econtext.ctx.<name>: message" || bad "log format"
# A context's words cannot drive the terminal: control characters in its logs, its
# children's output and its exceptions are written as \xNN (docs/security.md).
run 1 "a context's escape sequences" "$ec" -o "python=$py" call local builtins.exec \
	'import logging, os; logging.getLogger("ev"+chr(27)).warning(chr(27)+"[2J"+chr(13)); os.system("printf \"\\033]0;t\\007\\n\""); raise ValueError(chr(27)+"[31m")' &&
	if grep -q "$(printf '[\033\r\007]')" "$tmp/err"; then bad "no control character reaches stderr"; else
		ok "no control character reaches stderr"; fi &&
	expect_err 'econtext.ctx.local.ev\\x1b: \\x1b\[2J\\x0d$' "a log record's logger and message inert" &&
	expect_err 'stdout: \\x1b\]0;t\\x07$' "a child's output inert" &&
	expect_err 'raised builtins.ValueError: \\x1b\[31m$' "an exception's message inert"
run 0 "ping" "$ec" -o "python=$py" ping local && expect_out "python $ver, pid [0-9]*, bootstrap" "ping output"
run 4 "python not found" "$ec" -o python=/nonexistent/python9 call local os.getpid &&
	expect_err "cannot run /nonexistent/python9: No such file or directory" "names the missing interpreter"
printf '#!/nonexistent/python9 -S\npass\n' >"$tmp/script"
chmod +x "$tmp/script"
run 4 "a script whose #! interpreter is missing" "$ec" -o "python=$tmp/script" call local os.getpid &&
	expect_err "cannot run $tmp/script: the interpreter on its #! line, /nonexistent/python9, was not found" \
		"names the missing #! interpreter, not the script"
run 4 "python that exits at once" "$ec" -o python=/bin/false call local os.getpid &&
	expect_err "exited before it was ready" "boot failure explained"
run 4 "a command that prints and exits" "$ec" -o python=/bin/echo call local os.getpid &&
	expect_err "it printed: .*zlib.decompress" "boot output quoted"
run 0 "ad hoc context from -o transport=" "$ec" -o transport=local -o "python=$py" call adhoc1 platform.python_version &&
	expect_out "^\"$ver\"\$" "ad hoc context works"
run 3 "unknown context" "$ec" call nosuch os.getpid && expect_err "no context named 'nosuch'" "names the context"
srcdir=${EC_TEST_SRCDIR:-.}
data="$srcdir/tests/data/modfwd"
run 0 "-m DIR: a package served from the master" "$ec" -m "$data" -o "python=$py" call local fwdpkg.lazy.sibling_value &&
	expect_out '^42$' "forwarded package result"
run 0 "script.py:func runs func, not the main block" "$ec" -o "python=$py" call local "$data/script.py:main" 5 &&
	expect_out '^\["__econtext_script__", 10\]$' "script served as __econtext_script__"
run 1 "a remote exception in forwarded code" "$ec" -m "$data" -o "python=$py" call local fwdpkg.boom.fail &&
	expect_err "raise ValueError('forwarded failure" "traceback shows the forwarded source line"
run 3 "a missing script" "$ec" -o "python=$py" call local "$tmp/nope.py:main" &&
	expect_err "cannot open the script" "names the script"

run 3 "unknown override key" "$ec" -o pythn=x call local os.getpid && expect_err "pythn" "names the key"
printf 'contexts:\n  a:\n    transport: nosuch\n' >"$tmp/c1.yaml"
run 3 "unknown transport" "$ec" -c "$tmp/c1.yaml" call a os.getpid &&
	expect_err "c1.yaml:3:[0-9]*: .*unknown transport 'nosuch'" "file:line:col and plugin named"
printf 'contexts:\n  a:\n    transport: local\n    codec: jsn\n' >"$tmp/c1c.yaml"
run 3 "unknown codec of a context" "$ec" -c "$tmp/c1c.yaml" call a os.getpid &&
	expect_err "c1c.yaml:4:[0-9]*: context 'a': unknown codec 'jsn'" "file:line:col and plugin named"
run 0 "a context's codec from -o (json)" "$ec" -o "python=$py" -o codec=json call local operator.add 40 2 &&
	expect_out '^42$' "the json codec's result"
run 1 "the json codec refuses a big int result" "$ec" -o "python=$py" -o codec=json call local operator.pow 2 64 &&
	expect_err "cannot carry an integer beyond 64 bits with the json codec" "the refusal said"
printf 'codec: pickle\ncontexts:\n  a:\n    transport: local\n    bogus: 1\n' >"$tmp/c2.yaml"
run 3 "unknown key in config" "$ec" -c "$tmp/c2.yaml" call a os.getpid &&
	expect_err "c2.yaml:5:5" "location of the bad key"
printf 'contexts:\n  a:\n    transport: local\n  b:\n    transport: local\n    via: a\n' >"$tmp/c5.yaml"
run 3 "local cannot run via another context" "$ec" -c "$tmp/c5.yaml" call b os.getpid &&
	expect_err "c5.yaml:6:5: context 'b': the local transport cannot run via another context" "via refused with location"
printf 'contexts: [\n' >"$tmp/c3.yaml"
run 3 "YAML syntax error" "$ec" -c "$tmp/c3.yaml" call a os.getpid && expect_err "c3.yaml:" "file named"
run 3 "missing config file" "$ec" -c "$tmp/none.yaml" call local os.getpid && expect_err "none.yaml" "file named"
printf 'codec: nosuchcodec\n' >"$tmp/c4.yaml"
run 3 "unknown codec" "$ec" -c "$tmp/c4.yaml" call local os.getpid && expect_err "unknown codec 'nosuchcodec'" "codec named"
run 2 "usage error" "$ec" call
# invite: the one-line command first on stdout; whoever runs it becomes the context,
# which is then called; the line works once (docs/tls.md).
mkfifo "$tmp/inv"
"$ec" -q -o "python=$py" --timeout 60 invite guest platform.python_version >"$tmp/inv" 2>"$tmp/err" &
invpid=$!
exec 3<"$tmp/inv"
IFS= read -r line <&3
if sh -c "$line" 2>"$tmp/line.err" && IFS= read -r result <&3 && wait "$invpid"; then
	case $result in
	"\"$ver\"") ok "invite: the line run, the context called ($result)" ;;
	*) echo "    result: $result"; bad "invite: the call's result" ;;
	esac
else
	cat "$tmp/line.err"
	bad "invite: the line run, the context called"
fi
exec 3<&-
if sh -c "$line" 2>"$tmp/err"; then
	bad "invite: the line does not work again (its master is gone)"
elif grep -q "econtext invitation: " "$tmp/err"; then
	ok "invite: the line does not work again ($(head -c 120 "$tmp/err"))"
else
	bad "invite: the line does not work again, with a message"
fi
echo "RESULT: $pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
