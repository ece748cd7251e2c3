#!/bin/sh
# test_transfer_ssh.sh: `econtext put` and `get` over ssh (tests/sshd-fixture.sh's sshd
# on loopback, logged in as its password test user, not root), with the sizes and the
# errors of tests/transfer-cases.sh provoked for real: source missing or unreadable,
# directory missing, permission denied, read-only filesystem and no space (mounts the
# test makes in the root namespace: sshd's side is this machine), the context killed
# mid-transfer, a directory where a file was expected; and through a jump host (sshj,
# via sshx): source missing, directory missing, permission denied, the context lost.
# Needs root (the test user, the mounts) and sshd, else a visible skip (77).
builddir=${EC_TEST_BUILDDIR:-.}
srcdir=${EC_TEST_SRCDIR:-.}
skip() { echo "SKIP: $1"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (the fixture's password user, mounts)"
[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
ec="$builddir/econtext"
case "$ec" in /*) ;; *) ec="$PWD/$ec" ;; esac
. "$srcdir/tests/transfer-cases.sh"
d=$(mktemp -d /tmp/ec-xfer-ssh.XXXXXX)
fx="$d/fx"
trap 'xfer_unmount; sh "$srcdir/tests/sshd-fixture.sh" stop "$fx" >/dev/null 2>&1; rm -rf "$d"' EXIT
trap 'exit 1' INT TERM
sh "$srcdir/tests/sshd-fixture.sh" start "$fx" >"$d/fx.log" 2>&1
st=$?
[ $st = 77 ] && skip "no sshd (openssh-server)"
[ $st = 0 ] || { echo "FAIL - the sshd fixture: $(cat "$d/fx.log")"; exit 1; }
. "$fx/env.sh"
[ -n "$FX_PW_USER" ] || skip "the fixture made no password user"
chmod 755 "$d"
W="$d/theirs" L="$d/ours" D="$d/root" ROOT=1 XUSER=$FX_PW_USER
mkdir "$W" "$L" "$D"
chown "$FX_PW_USER" "$W"
chmod 755 "$W" "$L" "$D"
echo secret >"$D/secret"
chmod 600 "$D/secret"
# sshx, and sshj: the same login through sshx (a jump host).
{
	echo "contexts:"
	for c in sshx sshj; do
		echo "  $c: {transport: ssh, hostname: 127.0.0.1, port: $FX_PORT, username: $FX_PW_USER,"
		echo "    password_env: EC_TEST_SSH_PASSWORD, identity_file: [], agent: false,"
		echo "    known_hosts: $FX_KNOWN_HOSTS, python: /usr/bin/python3$([ $c = sshj ] && echo ', via: sshx')}"
	done
} >"$d/conf.yaml"
export EC_TEST_SSH_PASSWORD="$FX_PW_PASSWORD"
run() { ECONTEXT_CONFIG="$d/conf.yaml" "$ec" "$@"; }
run ping sshx >"$d/out" 2>&1 || { echo "FAIL - ping over ssh: $(cat "$d/out")"; exit 1; }
xfer_cases sshx
# Through a jump host (sshx): the errors named the same way, nothing left behind.
run ping sshj >"$d/out" 2>&1 && xfer_errors sshj || bad "ping through a jump host: $(cat "$d/out")"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
