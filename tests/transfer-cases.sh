# transfer-cases.sh: the file transfer's sizes and errors, provoked for real, for a
# context of any transport (sourced by tests/test_transfer_ssh.sh and
# tests/test_transfer_sudo.sh; POSIX sh).
#
#   xfer_cases CTX
#
# defines ok, bad and the counts pass, fail; needs: $XUSER, the context's user; run ARGS... (econtext ARGS as the master's user, with the config
# naming CTX); $d (a directory of the test, root's); $W, a directory the context's user
# may write and the master's user may read; $L, one the master's user may write; $D,
# root's (0755), holding root's 0600 file "secret" (the context's user is not root);
# $ROOT: 1 when the test may mount (root), then it mounts in the root namespace (the
# far side of ssh and sudo is this machine but not our process) a read-only bind mount
# $d/ro and a 1 MiB tmpfs $d/full, both for the context's user, unmounted by
# xfer_unmount (call it from the test's EXIT trap).
# Each error must say the context and the path and leave the target as it was and no
# temporary file (.NAME.ec-*, or an unnamed one: nothing to see).

xfer_temps() { find "$d" -name '.*.ec-*' 2>/dev/null | wc -l; }

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }

# xfer_try NAME RC PATTERN ARGS...: run ARGS, then xfer_expect.
xfer_try() {
	n=$1 want=$2 pattern=$3
	shift 3
	run "$@" >"$d/out" 2>&1
	xrc=$?
	xfer_expect "$n" "$want" "$pattern"
}

# xfer_expect NAME RC PATTERN: the last command's status and output ($d/out) as wanted, and
# no temporary file.
xfer_expect() {
	if [ "$xrc" = "$2" ] && grep -q -- "$3" "$d/out" && [ "$(xfer_temps)" = 0 ]; then
		ok "$xname: $1"
	else
		bad "$xname: $1: rc $xrc (want $2), $(xfer_temps) temps: $(cat "$d/out")"
	fi
}

# The pid of a process of user $1 with the path $2 open (its /proc/PID/fd link starts
# so), or nothing after 30 s. An unnamed file shows as "DIR/#INODE (deleted)".
xfer_opener() {
	i=0
	while [ $i -lt 600 ]; do
		for p in $(pgrep -u "$1"); do
			for f in /proc/$p/fd/*; do
				case "$(readlink "$f" 2>/dev/null)" in "$2"*)
					echo "$p"
					return
					;;
				esac
			done 2>/dev/null
		done
		sleep 0.05
		i=$((i + 1))
	done
}

xfer_unmount() {
	umount "$d/ro" 2>/dev/null
	umount "$d/full" 2>/dev/null
}

xfer_cases() {
	xname=$1
	ctx=$1
	# Sizes: 0, 1, one window (4 MiB), one window and one byte; put, then get back.
	for s in 0 1 4194304 4194305; do
		head -c $s /dev/urandom >"$L/src-$s"
		chmod 644 "$L/src-$s"
		run put "$ctx" "$L/src-$s" "$W/f-$s" >"$d/out" 2>&1 &&
			run get "$ctx" "$W/f-$s" "$L/back-$s" >>"$d/out" 2>&1 &&
			cmp -s "$L/src-$s" "$W/f-$s" && cmp -s "$L/src-$s" "$L/back-$s" &&
			grep -q "\"bytes\": $s," "$d/out" && ok "$xname: $s bytes put and got back" ||
			bad "$xname: $s bytes: $(cat "$d/out")"
		rm -f "$W/f-$s" "$L/back-$s"
	done
	# A tree both ways: odd names (a space, a newline, bytes not UTF-8), links, an empty
	# directory.
	mkdir -p "$L/tree/sub dir" "$L/tree/empty"
	printf a >"$L/tree/sub dir/f"
	printf b >"$L/tree/new
line"
	printf c >"$L/tree/$(printf '\377\376')"
	ln -s "sub dir/f" "$L/tree/link"
	ln -s /etc/passwd "$L/tree/out"
	chmod -R a+rX "$L/tree"
	run put -r "$ctx" "$L/tree" "$W/tree" >"$d/out" 2>&1 &&
		run get -r "$ctx" "$W/tree" "$L/tree2" >>"$d/out" 2>&1 &&
		diff -r --no-dereference "$L/tree" "$W/tree" && diff -r --no-dereference "$L/tree" "$L/tree2" &&
		ok "$xname: put -r and get -r: odd names, links, an empty directory" ||
		bad "$xname: trees: $(cat "$d/out")"
	rm -rf "$L/tree" "$L/tree2" "$W/tree"
	cp "$L/src-4194305" "$L/src"
	echo old >"$W/t"

	xfer_errors "$ctx"
	mkdir -p "$W/dir"
	xfer_try "put: a directory where a file was expected" 6 \
		"context '$ctx'.*$W/dir: Is a directory" \
		put "$ctx" "$L/src" "$W/dir"
	xfer_try "get: a directory where a file was expected" 1 \
		"context '$ctx'.*Is a directory: '$W/dir'" \
		get "$ctx" "$W/dir" "$L/t"
	[ "$(cat "$W/t")" = old ] || bad "$xname: $W/t changed"

	if [ "${ROOT:-0}" = 1 ]; then
		mkdir -p "$d/ro" "$d/full"
		echo old >"$d/ro/t"
		if mount --bind "$d/ro" "$d/ro" && mount -o remount,bind,ro "$d/ro" &&
			mount -t tmpfs -o size=1m,mode=0777 tmpfs "$d/full"; then
			echo old >"$d/full/t"
			chmod 666 "$d/full/t"
			xfer_try "put: a read-only filesystem" 1 \
				"context '$ctx'.*Read-only file system: '$d/ro/t'" \
				put "$ctx" "$L/src" "$d/ro/t"
			xfer_try "put: no space left" 1 \
				"context '$ctx'.*No space left on device: '$d/full/t'" \
				put "$ctx" "$L/src" "$d/full/t"
			xfer_try "get: no space left here" 6 \
				"context '$ctx'.*$d/full/g: No space left on device" \
				get "$ctx" "$L/src" "$d/full/g"
			[ "$(cat "$d/ro/t")" = old ] && [ "$(cat "$d/full/t")" = old ] && [ ! -e "$d/full/g" ] &&
				[ "$(df -k "$d/full" | awk 'NR == 2 {print $3}')" -lt 100 ] &&
				ok "$xname: read-only and full: the old files, the space given back" ||
				bad "$xname: read-only and full: $(ls -la "$d/ro" "$d/full"; df -k "$d/full")"
		else
			bad "$xname: the read-only bind mount or the tmpfs could not be made"
		fi
		xfer_unmount
	else
		echo "SKIP: $xname: read-only and full filesystems need root (mounts)"
	fi

	rm -f "$L/big" "$W/big" "$L"/src* "$W/t" "$L/t"
}

# xfer_errors CTX: the errors any stack must report the same way (xfer_cases runs them;
# tests/test_transfer_ssh.sh through a jump host, tests/test_transfer_sudo.sh through
# sudo via ssh): the source missing or unreadable, the directory missing, permission
# denied, the context lost mid-transfer; each naming the context and the path, the old
# file kept, no temporary file. Needs what xfer_cases needs; makes $L/src and $W/t.
xfer_errors() {
	xname=$1
	ctx=$1
	head -c 4194305 /dev/urandom >"$L/src"
	chmod 644 "$L/src"
	echo old >"$W/t"
	xfer_try "put: the source missing" 6 \
		"context '$ctx'.*$L/missing: No such file" \
		put "$ctx" "$L/missing" "$W/t"
	xfer_try "get: the source missing" 1 \
		"context '$ctx'.*No such file or directory: '$W/missing'" \
		get "$ctx" "$W/missing" "$L/t"
	xfer_try "get: the source unreadable" 1 \
		"context '$ctx'.*Permission denied: '$D/secret'" \
		get "$ctx" "$D/secret" "$L/t"
	xfer_try "put: the directory missing" 1 \
		"context '$ctx'.*No such file or directory: '$W/nodir/t'" \
		put "$ctx" "$L/src" "$W/nodir/t"
	xfer_try "get: the local directory missing" 6 \
		"context '$ctx'.*$L/nodir/t: No such file" \
		get "$ctx" "$W/t" "$L/nodir/t"
	xfer_try "put: permission denied" 1 \
		"context '$ctx'.*Permission denied: '$D/nope'" \
		put "$ctx" "$L/src" "$D/nope"
	[ ! -e "$D/nope" ] || bad "$xname: permission denied, yet $D/nope is there"
	# The context lost mid-transfer: its process killed while it writes (put) or reads
	# (get); the error names the context and the path; the old file stays.
	head -c 300000000 /dev/zero >"$L/big"
	chmod 644 "$L/big"
	cp "$L/big" "$W/big"
	for way in put get; do
		if [ $way = put ]; then
			run put "$ctx" "$L/big" "$W/t" >"$d/out" 2>&1 &
			watch="$W/#"
			dst="$W/t"
		else
			run get "$ctx" "$W/big" "$L/t" >"$d/out" 2>&1 &
			watch="$W/big"
			dst="$L/t"
			echo old >"$L/t"
		fi
		pid=$!
		victim=$(xfer_opener "$XUSER" "$watch")
		[ -n "$victim" ] && kill -KILL "$victim"
		wait $pid
		xrc=$?
		xfer_expect "$way: the context killed mid-way" 4 "$way [^ ]* -> $dst: context '$ctx' disconnected"
		[ "$(cat "$dst")" = old ] || bad "$xname: $way: $dst changed"
	done
	[ "$(cat "$W/t")" = old ] || bad "$xname: $W/t changed"
	rm -f "$L/big" "$W/big" "$L/t"
}
