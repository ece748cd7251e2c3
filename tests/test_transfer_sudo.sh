#!/bin/sh
# test_transfer_sudo.sh: `econtext put` and `get` through sudo: the master runs as a test
# user (tests/sudo_fixture.sh: ecsudo_src, NOPASSWD to ecsudo_nopw) and writes into a
# directory only ecsudo_nopw may write (0700): the file arrives owned by ecsudo_nopw with
# its mode and content; a directory the sudo user may not write is "Permission denied"
# naming the path, the old file intact, no temporary file; then the sizes and errors of
# tests/transfer-cases.sh provoked for real (source missing or unreadable, directory
# missing, permission denied, read-only and full filesystems mounted by the test in the
# root namespace, the sudo'd context killed mid-transfer, a directory where a file was
# expected); and sudo via ssh (tests/sshd-fixture.sh): source missing, directory missing,
# permission denied, the context lost. Needs root, sudo and useradd (else a visible skip, 77); one sudo test at a
# time (the fixture's lock).
builddir=${EC_TEST_BUILDDIR:-.}
srcdir=${EC_TEST_SRCDIR:-.}
skip() { echo "SKIP: $1"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (test users)"
command -v sudo >/dev/null && command -v useradd >/dev/null && command -v visudo >/dev/null ||
	skip "sudo, useradd or visudo missing"
[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
ec="$builddir/econtext"
case "$ec" in /*) ;; *) ec="$PWD/$ec" ;; esac
exec 9>/tmp/ec_test_sudo.lock
flock 9 || skip "the sudo fixture's lock"
pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
d=$(mktemp -d /tmp/ec-xfer-sudo.XXXXXX)
. "$srcdir/tests/transfer-cases.sh"
fx="$d/sshfx"
trap 'xfer_unmount; sh "$srcdir/tests/sshd-fixture.sh" stop "$fx" >/dev/null 2>&1; rm -rf "$d"; sh "$srcdir/tests/sudo_fixture.sh" teardown >/dev/null 2>&1' EXIT
trap 'exit 1' INT TERM
EC_SUDO_TEST_PASSWORD="xfer-$pw-ok" sh "$srcdir/tests/sudo_fixture.sh" setup >"$d/fx" 2>&1 ||
	skip "sudo fixture: $(cat "$d/fx")"
chmod 755 "$d"
cat >"$d/conf.yaml" <<EOF2
contexts:
  nopw: {transport: sudo, username: ecsudo_nopw, python: /usr/bin/python3}
EOF2
head -c 2000000 /dev/urandom >"$d/src"
chmod 644 "$d/src" "$d/conf.yaml"
mkdir "$d/theirs" "$d/root"
chown ecsudo_nopw "$d/theirs"
chmod 700 "$d/theirs"
chmod 755 "$d/root"
echo old >"$d/root/t"
as_src() { su -s /bin/sh ecsudo_src -c "cd /tmp && ECONTEXT_CONFIG=$d/conf.yaml $*"; }

as_src "'$ec' put nopw '$d/src' '$d/theirs/f'" >"$d/out" 2>&1
rc=$?
[ $rc = 0 ] && grep -q '"ok": true, "changed": true, "bytes": 2000000' "$d/out" &&
	[ "$(stat -c '%U %a' "$d/theirs/f")" = "ecsudo_nopw 644" ] && cmp -s "$d/src" "$d/theirs/f" &&
	ok "put through sudo into a directory only the sudo user may write" ||
	bad "put: rc $rc: $(cat "$d/out")"
as_src "'$ec' put nopw '$d/src' '$d/theirs/f'" >"$d/out" 2>&1
grep -q '"changed": false' "$d/out" && ok "again: unchanged" || bad "again: $(cat "$d/out")"
as_src "'$ec' get nopw '$d/theirs/f' /tmp/ec-xfer-sudo-back.$$" >"$d/out" 2>&1
rc=$?
[ $rc = 0 ] && cmp -s "$d/src" /tmp/ec-xfer-sudo-back.$$ &&
	[ "$(stat -c %U /tmp/ec-xfer-sudo-back.$$)" = ecsudo_src ] && ok "get through sudo" ||
	bad "get: rc $rc: $(cat "$d/out")"
rm -f /tmp/ec-xfer-sudo-back.$$
as_src "'$ec' put nopw '$d/src' '$d/root/t'" >"$d/out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "Permission denied: '$d/root/t'" "$d/out" && [ "$(cat "$d/root/t")" = old ] &&
	[ "$(find "$d" -name '.*.ec-*' | wc -l)" = 0 ] &&
	ok "permission denied: the error, the old file, no temporary file" || bad "denied: rc $rc: $(cat "$d/out")"

# The cases: econtext run as ecsudo_src, the context ecsudo_nopw.
run() { su -s /bin/sh ecsudo_src -c 'c=$1; shift; cd /tmp && ECONTEXT_CONFIG=$c exec "$@"' -- sh "$d/conf.yaml" "$ec" "$@"; }
W="$d/theirs2" L="$d/ours" D="$d/root" ROOT=1 XUSER=ecsudo_nopw
mkdir "$W" "$L"
chown ecsudo_nopw "$W"
chown ecsudo_src "$L"
chmod 755 "$W" "$L"
echo secret >"$D/secret"
chmod 600 "$D/secret"
xfer_cases nopw

# Sudo via ssh (ecsudo_ssh logs in to tests/sshd-fixture.sh's sshd with its key, then
# sudo to ecsudo_nopw; the master as root): the errors named the same way, nothing left
# behind.
sh "$srcdir/tests/sshd-fixture.sh" start "$fx" >"$d/fx.log" 2>&1
st=$?
if [ $st = 0 ]; then
	. "$fx/env.sh"
	cp "$FX_KEY.pub" "$fx/authorized_keys/ecsudo_ssh"
	chmod 644 "$fx/authorized_keys/ecsudo_ssh"
	chmod 711 "$fx"
	cat >"$d/conf-ssh.yaml" <<EOF2
contexts:
  web: {transport: ssh, hostname: 127.0.0.1, port: $FX_PORT, username: ecsudo_ssh,
        identity_file: $FX_KEY, known_hosts: $FX_KNOWN_HOSTS, global_known_hosts: '',
        agent: false, python: /usr/bin/python3}
  sshsudo: {transport: sudo, via: web, username: ecsudo_nopw, python: /usr/bin/python3}
EOF2
	run() { ECONTEXT_CONFIG="$d/conf-ssh.yaml" "$ec" "$@"; }
	W="$d/theirs3" L="$d/ours3"
	mkdir "$W" "$L"
	chown ecsudo_nopw "$W"
	chmod 755 "$W" "$L"
	run ping sshsudo >"$d/out" 2>&1 && xfer_errors sshsudo || bad "ping sshsudo: $(cat "$d/out")"
elif [ $st = 77 ]; then
	echo "SKIP: sudo via ssh: no sshd (openssh-server)"
else
	bad "the sshd fixture: $(cat "$d/fx.log")"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
