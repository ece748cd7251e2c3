#!/bin/sh
# test_transfer.sh: `econtext put TARGET LOCAL REMOTE` and `econtext get [-r] CONTEXT
# REMOTE LOCAL`: one JSON line per context (20 at once too), "changed" false when the
# target is already the same, content and mode kept, the exit statuses; a put or get
# interrupted (Ctrl-C, the command killed, the context killed) leaving the old file and
# no temporary one; Ctrl-C while a context connects seen at once; and, in a mount
# namespace of its own (root and unshare -m), a read-only filesystem and a full one (a
# 1 MiB tmpfs): each an error naming the path, the old file intact, no temporary file
# left.
builddir=${EC_TEST_BUILDDIR:-.}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }
ec="$builddir/econtext"
case "$ec" in /*) ;; *) ec="$PWD/$ec" ;; esac
d=$(mktemp -d /tmp/ec-xfer.XXXXXX)
trap 'umount "$d/ro" "$d/full" 2>/dev/null; rm -rf "$d" ${big:+"$big"}' EXIT
printf '#!/bin/sh\necho $$ >>"%s/hang.pids"\nexec sleep 300\n' "$d" >"$d/fakepy"
chmod 755 "$d/fakepy"
cat >"$d/conf.yaml" <<EOF
contexts:
  hang: {transport: local, python: $d/fakepy}
  h1: {transport: local}
  h2: {transport: local}
  h3: {transport: local}
groups:
  all: [h1, h2, h3]
EOF
i=1
while [ $i -le 20 ]; do
	echo "  m$i: {transport: local}"
	i=$((i + 1))
done | sed -i '/^contexts:$/r /dev/stdin' "$d/conf.yaml"
export ECONTEXT_CONFIG="$d/conf.yaml"
head -c 3000000 /dev/urandom >"$d/src"
chmod 640 "$d/src"
out="$d/out"
temps() { find "$d" -name '.*.ec-*' | wc -l; }

"$ec" put all "$d/src" "$d/dst" >"$out" 2>&1
rc=$?
# The three contexts share this machine: the last ones may find the file already there.
[ $rc = 0 ] && [ "$(grep -c '"ok": true, "changed": ' "$out")" = 3 ] &&
	grep -q '"changed": true, "bytes": 3000000' "$out" &&
	cmp -s "$d/src" "$d/dst" && [ "$(stat -c %a "$d/dst")" = 640 ] &&
	ok "put to a group: a line per context, content and mode" || bad "put all: rc $rc: $(cat "$out")"
"$ec" put 'm*' "$d/src" "$d/dst20" >"$out" 2>&1
rc=$?
[ $rc = 0 ] && [ "$(grep -c '"ok": true, "changed": true, "bytes": 3000000' "$out")" = 20 ] &&
	cmp -s "$d/src" "$d/dst20" && ok "put to 20 contexts at once, the file read once" ||
	bad "put m*: rc $rc: $(cat "$out")"
"$ec" put 'h[12]' "$d/src" "$d/dst" >"$out" 2>&1
rc=$?
[ $rc = 0 ] && [ "$(grep -c '"ok": true, "changed": false, "bytes": 0' "$out")" = 2 ] &&
	ok "put again: changed false, nothing sent" || bad "put again: rc $rc: $(cat "$out")"
"$ec" --mode 600 get h1 "$d/dst" "$d/back" >"$out" 2>&1
rc=$?
[ $rc = 0 ] && cmp -s "$d/src" "$d/back" && [ "$(stat -c %a "$d/back")" = 600 ] &&
	grep -q '"context": "h1", "ok": true' "$out" && ok "get, --mode" || bad "get: rc $rc: $(cat "$out")"
"$ec" --mode 600 get h1 "$d/dst" "$d/back" >"$out" 2>&1
rc=$?
[ $rc = 0 ] && grep -q '"ok": true, "changed": false, "bytes": 0, .*"sha256": "'"$(sha256sum <"$d/src" | cut -c1-64)"'"' "$out" &&
	"$ec" get h1 "$d/dst" "$d/back" 2>&1 | grep -q '"changed": true, "bytes": 3000000' &&
	[ "$(stat -c %a "$d/back")" = 640 ] &&
	ok "get again: changed false, nothing sent; another mode: sent again" ||
	bad "get again: rc $rc: $(cat "$out")"
"$ec" get all "$d/dst" "$d/back" >"$out" 2>&1
rc=$?
[ $rc = 2 ] && grep -q "get takes one context" "$out" && ok "get of many: usage" ||
	bad "get all: rc $rc: $(cat "$out")"
"$ec" put h1 "$d/src" "$d/nodir/x" >"$out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "\"ok\": false.*h1.*No such file or directory: '$d/nodir/x'" "$out" &&
	ok "a missing directory: exit 1, the context and the path said" || bad "nodir: rc $rc: $(cat "$out")"
mkdir -p "$d/tree/sub dir" "$d/tree/empty"
cp "$d/src" "$d/tree/sub dir/f"
ln -s "sub dir/f" "$d/tree/link"
"$ec" put -r all "$d/tree" "$d/tree2" >"$out" 2>&1
rc=$?
[ $rc = 0 ] && [ "$(grep -c '"ok": true' "$out")" = 3 ] && diff -r --no-dereference "$d/tree" "$d/tree2" &&
	"$ec" put -r h1 "$d/tree" "$d/tree2" 2>&1 | grep -q '"changed": false, "bytes": 0' &&
	ok "put -r: a tree with a link and an empty directory; unchanged again" ||
	bad "put -r: rc $rc: $(cat "$out")"
"$ec" get -r h1 "$d/tree" "$d/tree3" >"$out" 2>&1
rc=$?
[ $rc = 0 ] && grep -q '"context": "h1", "ok": true, "changed": true, "bytes": 3000000' "$out" &&
	diff -r --no-dereference "$d/tree" "$d/tree3" && ok "get -r: the tree back" ||
	bad "get -r: rc $rc: $(cat "$out")"
# Trees: owner and group given to directories and links too (as root), directories'
# mtimes kept both ways.
touch -d 2020-01-03 "$d/tree/sub dir" "$d/tree/empty"
"$ec" put -r h1 "$d/tree" "$d/tree4" >"$out" 2>&1 && "$ec" get -r h1 "$d/tree" "$d/tree5" >>"$out" 2>&1 &&
	[ "$(stat -c %Y "$d/tree4/sub dir" "$d/tree4/empty" "$d/tree5/sub dir" "$d/tree5/empty" | sort -u)" = \
		"$(stat -c %Y "$d/tree/empty")" ] &&
	ok "put -r, get -r: the directories' mtimes kept" || bad "trees' mtimes: $(cat "$out"; stat "$d/tree4/sub dir")"
if [ "$(id -u)" = 0 ] && getent passwd nobody >/dev/null; then
	g=$(id -gn nobody)
	for way in put get; do
		"$ec" --owner nobody --group "$g" $way -r h1 "$d/tree" "$d/tree-$way" >"$out" 2>&1 &&
			[ "$(stat -c '%U:%G' "$d/tree-$way" "$d/tree-$way/sub dir" "$d/tree-$way/empty" \
				"$d/tree-$way/link" "$d/tree-$way/sub dir/f" | sort -u)" = "nobody:$g" ] &&
			"$ec" --owner nobody --group "$g" $way -r h1 "$d/tree" "$d/tree-$way" 2>&1 |
			grep -q '"changed": false' &&
			ok "$way -r --owner --group: directories and links too; unchanged again" ||
			bad "$way -r --owner: $(cat "$out"; ls -lR "$d/tree-$way")"
	done
else
	echo "SKIP: trees' owner and group: needs root and a user nobody"
fi
"$ec" put h1 "$d/missing" "$d/x" >"$out" 2>&1
rc=$?
[ $rc = 6 ] && grep -q "h1.*$d/missing: No such file" "$out" && ok "a missing source: exit 6" ||
	bad "missing: rc $rc: $(cat "$out")"
[ "$(temps)" = 0 ] && ok "no temporary file left" || bad "temporary files: $(find "$d" -name '.*.ec-*')"

# A large tree: 20,000 files in one directory with long names (their listing some
# 2 MB) got with max_message_size 1 MiB: the listing comes in batches, not in one
# reply; put back the same way (the master reads the directory as it goes); on a tmpfs (/dev/shm) where there is one, so that fsyncs cost nothing.
big=$d
[ -d /dev/shm ] && [ -w /dev/shm ] && big=$(mktemp -d /dev/shm/ec-xfer.XXXXXX)
mkdir -p "$big/many/sub"
(cd "$big/many/sub" && seq 1 20000 | split -l 1 -a 5 - "a file with a rather long name, to fill the listing, ")
printf 'max_message_size: 1048576\ncontexts:\n  h1: {transport: local}\n' >"$d/small.yaml"
ECONTEXT_CONFIG="$d/small.yaml" "$ec" get -r h1 "$big/many" "$big/many2" >"$out" 2>&1
rc=$?
[ $rc = 0 ] && grep -q '"ok": true, "changed": true, "bytes": 108894,' "$out" &&
	[ "$(find "$big/many2/sub" -type f | wc -l)" = 20000 ] && diff -r "$big/many" "$big/many2" &&
	ECONTEXT_CONFIG="$d/small.yaml" "$ec" get -r h1 "$big/many" "$big/many2" 2>&1 |
	grep -q '"changed": false, "bytes": 0' &&
	ok "get -r of 20,000 files, its listing over max_message_size: in batches; unchanged again" ||
	bad "get -r of 20,000 files: rc $rc: $(head -c 2000 "$out")"
ECONTEXT_CONFIG="$d/small.yaml" "$ec" put -r h1 "$big/many" "$big/many3" >"$out" 2>&1
rc=$?
[ $rc = 0 ] && grep -q '"ok": true, "changed": true, "bytes": 108894,' "$out" && diff -r "$big/many" "$big/many3" &&
	ECONTEXT_CONFIG="$d/small.yaml" "$ec" put -r h1 "$big/many" "$big/many3" 2>&1 |
	grep -q '"changed": false, "bytes": 0' &&
	ok "put -r of 20,000 files; unchanged again" || bad "put -r of 20,000 files: rc $rc: $(head -c 2000 "$out")"
[ "$big" = "$d" ] && rm -rf "$d/many" "$d/many2" "$d/many3" || rm -rf "$big"

# Interrupted mid-put: Ctrl-C (exit 130), then the master killed (the context sees its
# stream end and exits), then the context killed (its file is unnamed until checked,
# O_TMPFILE); a get with the master killed. Each time the old file stays and no
# temporary file is left.
head -c 400000000 /dev/zero >"$d/big"
echo old >"$d/t"
# Wait (at most 30 s) until process $1 writes a file of the transfer: one unnamed
# (O_TMPFILE: "$d/#123 (deleted)" in /proc/PID/fd) or a named temporary one.
wait_writing() {
	i=0
	until ls -l "/proc/$1/fd" 2>/dev/null | grep -q -e "$d/#[0-9]* (deleted)" -e '\.ec-'; do
		[ $i -lt 300 ] || break
		sleep 0.1
		i=$((i + 1))
	done
}
# The context process (argv[0] econtext:...) of the command $1 (a local context: its
# child).
ctx_of() {
	i=0
	until c=$(pgrep -P "$1" -f "^econtext:"); do
		[ $i -lt 300 ] || break
		sleep 0.1
		i=$((i + 1))
	done
	echo "$c"
}
# Wait (at most 30 s) until no context process (econtext:...) of ours is left.
wait_gone() {
	i=0
	while pgrep -f "^econtext:" -P "$1" >/dev/null 2>&1 || [ -n "$(find "$d" -name '.*.ec-*')" ]; do
		[ $i -lt 300 ] || break
		sleep 0.1
		i=$((i + 1))
	done
}
cp "$d/big" "$d/big2"
# put INT, put KILL: the command signalled; CTX: the context killed; get: the same.
for how in "put INT" "put KILL" "put CTX" "get KILL" "get CTX"; do
	set -- $how
	if [ $1 = put ]; then
		"$ec" put h1 "$d/big" "$d/t" >"$out" 2>&1 &
	else
		"$ec" get h1 "$d/big2" "$d/t" >"$out" 2>&1 &
	fi
	pid=$!
	c=$(ctx_of $pid)
	# The writer: the context for a put, the command for a get.
	[ $1 = put ] && wait_writing "$c" || wait_writing $pid
	case $2 in
	CTX) kill -KILL "$c" ;;
	*) kill -$2 $pid ;;
	esac
	wait $pid
	rc=$?
	wait_gone $pid
	case $2 in INT) want=130 ;; KILL) want=137 ;; CTX) want=4 ;; esac
	src="$d/big"
	[ $1 = get ] && src="$d/big2"
	[ $rc = $want ] && [ "$(cat "$d/t")" = old ] && [ "$(temps)" = 0 ] &&
		{ [ $2 != CTX ] || grep -q "\"ok\": false.*$1 $src -> $d/t: context 'h1' disconnected" "$out"; } &&
		ok "$1 interrupted ($2; CTX: the context killed, the error naming it and the path): the old file, no temporary file" ||
		bad "$1 $2: rc $rc, $(temps) temps, t: $(head -c 20 "$d/t"): $(cat "$out")"
done
rm -f "$d/big2"
# Ctrl-C (SIGTERM) while a context connects: hang's interpreter never answers (it notes
# its pid, then sleeps), so its connect would last until --timeout. Seen at once: exit
# 130 (143), a line "interrupted ... while connecting" for each context of the batch
# (h1, up by then, too), the sleeping process gone (the context given up), nothing
# written.
for how in "put INT hang,h1 2" "put TERM hang 1" "get INT hang 1"; do
	set -- $how
	: >"$d/hang.pids"
	"$ec" --timeout 60 $1 $3 "$d/src" "$d/hx" >"$out" 2>&1 &
	pid=$!
	i=0
	until [ -s "$d/hang.pids" ]; do
		[ $i -lt 300 ] || break
		sleep 0.1
		i=$((i + 1))
	done
	kill -$2 $pid
	wait $pid
	rc=$?
	i=0
	while kill -0 $(cat "$d/hang.pids") 2>/dev/null; do
		[ $i -lt 300 ] || break
		sleep 0.1
		i=$((i + 1))
	done
	case $2 in INT) want=130 ;; TERM) want=143 ;; esac
	[ $rc = $want ] && [ -s "$d/hang.pids" ] && ! kill -0 $(cat "$d/hang.pids") 2>/dev/null &&
		[ "$(grep -c "\"ok\": false, .*\"kind\": \"EC_ECANCELED\", \"message\": \"interrupted by SIG$2 while connecting\"" "$out")" = $4 ] &&
		[ ! -e "$d/hx" ] && [ "$(temps)" = 0 ] &&
		ok "$1 $3: SIG$2 while connecting: seen at once, exit $want, a line each, the context given up" ||
		bad "$1 $3 SIG$2 while connecting: rc $rc, pids $(cat "$d/hang.pids"), $(temps) temps: $(cat "$out")"
done
# On a terminal: the progress line (bytes and rate) while it goes. The transcript
# holds every line drawn; each check reads it once the command has ended.
if command -v script >/dev/null; then
	script -qc "'$ec' put h1 '$d/big' '$d/t3'" "$d/tty" >/dev/null 2>&1
	grep -q "econtext: put h1 [0-9.]*/381.5 MiB [0-9]* MiB/s" "$d/tty" &&
		ok "the progress line on a terminal" || bad "progress line: $(tr '\r' '\n' <"$d/tty" | head -5)"
	script -qc "'$ec' get h1 '$d/big' '$d/t4'" "$d/tty" >/dev/null 2>&1
	grep -q "econtext: get h1 [0-9.]* MiB [0-9]* MiB/s" "$d/tty" && cmp -s "$d/big" "$d/t4" &&
		ok "get: the progress line on a terminal" || bad "get's progress line: $(tr '\r' '\n' <"$d/tty" | head -5)"
	# Three contexts at once, a wide terminal: each one with its bytes (what it
	# acknowledged) and its rate.
	rm -f "$d/t3"
	script -qc "stty cols 200; '$ec' put all '$d/big' '$d/t3'" "$d/tty" >/dev/null 2>&1
	n=0
	for h in h1 h2 h3; do
		grep -q "econtext: put .*$h [0-9.]*/381.5 MiB [0-9]* MiB/s" "$d/tty" && n=$((n + 1))
	done
	[ $n = 3 ] && [ "$(grep -c '"ok": true' "$d/tty")" = 3 ] &&
		ok "put to three: each context's bytes and rate in the line" ||
		bad "put to three, the line per context: $(tr '\r' '\n' <"$d/tty" | head -5)"
	# A narrow terminal (40 columns): the counts and the slowest context, its bytes
	# and rate, every line drawn within 39 columns.
	rm -f "$d/t3"
	script -qc "stty cols 40; '$ec' put all '$d/big' '$d/t3'" "$d/tty" >/dev/null 2>&1
	tr '\r' '\n' <"$d/tty" | sed 's/\x1b\[K//' >"$d/lines"
	grep -q "^[0-9]/3[^;]*; slowest h[123] [0-9]*M [0-9]*M/s\$" "$d/lines" &&
		! grep 'slowest' "$d/lines" | grep -q '.\{40\}' &&
		[ "$(grep -c '"ok": true' "$d/tty")" = 3 ] &&
		ok "put to three, 40 columns: the counts and the slowest context, within the width" ||
		bad "put to three, 40 columns: $(grep slowest "$d/lines" | head -5)"
	"$ec" get h1 "$d/big" "$d/t5" 2>"$d/err" >/dev/null
	[ ! -s "$d/err" ] && ok "no progress line when stderr is no terminal" || bad "progress not on a tty: $(head -c 300 "$d/err")"
else
	echo "SKIP: the progress line: no script(1)"
fi
rm -f "$d/big" "$d/t3" "$d/t4" "$d/t5"

# Read-only and full filesystems, in a mount namespace of our own.
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	mkdir "$d/ro" "$d/full"
	echo old >"$d/ro/t"
	unshare -m sh -c '
		d=$1 ec=$2
		mount --make-rprivate / &&
		mount --bind "$d/ro" "$d/ro" && mount -o remount,bind,ro "$d/ro" &&
		mount -t tmpfs -o size=1m tmpfs "$d/full" || exit 77
		echo old >"$d/full/t"
		"$ec" put h1 "$d/src" "$d/ro/t" >"$d/out-ro" 2>&1; echo $? >"$d/rc-ro"
		"$ec" put h1 "$d/src" "$d/full/t" >"$d/out-full" 2>&1; echo $? >"$d/rc-full"
		cat "$d/full/t" >"$d/full-t"
		find "$d/full" -name ".*.ec-*" | wc -l >"$d/full-temps"
		df -k "$d/full" | awk "NR == 2 {print \$3}" >"$d/full-used"
	' sh "$d" "$ec"
	if [ $? = 77 ]; then
		echo "SKIP: mounts in a namespace refused"
	else
		[ "$(cat "$d/rc-ro")" = 1 ] && grep -q "Read-only file system: '$d/ro/t'" "$d/out-ro" &&
			[ "$(cat "$d/ro/t")" = old ] && ok "a read-only filesystem: the error, the old file" ||
			bad "ro: rc $(cat "$d/rc-ro"): $(cat "$d/out-ro")"
		[ "$(cat "$d/rc-full")" = 1 ] && grep -q "No space left on device: '$d/full/t'" "$d/out-full" &&
			[ "$(cat "$d/full-t")" = old ] && [ "$(cat "$d/full-temps")" = 0 ] &&
			[ "$(cat "$d/full-used")" -lt 100 ] &&
			ok "a full filesystem: the error, the old file, the space given back" ||
			bad "full: rc $(cat "$d/rc-full"), $(cat "$d/full-temps") temps, $(cat "$d/full-used") kB used: $(cat "$d/out-full")"
	fi
else
	echo "SKIP: read-only and full filesystems: needs root and unshare -m"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
