#!/bin/sh
# bench/sudo.sh: bootstrap of a sudo context to the first result, locally and via ssh,
# against sudo and OpenSSH running the same interpreter by themselves.
# Run from a built tree, as root:   sh bench/sudo.sh [RUNS]
# Not a test: timings decide nothing. Needs hyperfine, setpriv, the OpenSSH client and
# sshd. Creates the test users and sudoers drop-in of tests/sudo_fixture.sh and the
# private sshd of tests/sshd-fixture.sh, and removes them on exit.
#
# Local: the master runs as ecsudo_ssh (root never needs a password), which may become
# ecsudo_pw with its password and ecsudo_nopw without one. Via ssh: the master runs as
# root and logs in as ecsudo_ssh. /usr/bin/python3 by absolute path (pyenv's live under
# /root). The user has timestamp_timeout=0, so every password run is a real PAM check.
set -eu
cd "$(dirname "$0")/.."
runs=${1:-20}
[ "$(id -u)" = 0 ] || { echo "bench/sudo.sh: run as root (it creates test users)" >&2; exit 1; }
for b in hyperfine setpriv ssh; do
	command -v $b >/dev/null || { echo "bench/sudo.sh: $b not found" >&2; exit 1; }
done
py=/usr/bin/python3
u=ecsudo_ssh
# One user of the sudo fixture at a time (tests/test_sudo*.c take the same lock).
exec 9>/tmp/ec_test_sudo.lock
flock 9
pw=bench-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
dir=$(mktemp -d /tmp/ecsudo-bench.XXXXXX)
rmdir "$dir"
trap 'sh tests/sshd-fixture.sh stop "$dir" >/dev/null; sh tests/sudo_fixture.sh teardown' EXIT
EC_SUDO_TEST_PASSWORD=$pw sh tests/sudo_fixture.sh setup
sh tests/sshd-fixture.sh start "$dir" >/dev/null
. "$dir/env.sh"
cp "$FX_KEY.pub" "$dir/authorized_keys/$u"
chmod 711 "$dir"
chmod 755 "$dir/authorized_keys"
chmod 644 "$dir/authorized_keys/$u"
echo "sudo $(sudo -V | head -1), sshd on 127.0.0.1:$FX_PORT, login $u, python $py"

cfg=$dir/bench.yaml
cat >"$cfg" <<EOF
contexts:
  local: {transport: local, python: $py}
  pw: {transport: sudo, username: ecsudo_pw, password_env: ECPW, python: $py}
  nopw: {transport: sudo, username: ecsudo_nopw, python: $py}
  web:
    transport: ssh
    hostname: 127.0.0.1
    port: $FX_PORT
    username: $u
    identity_file: $FX_KEY
    known_hosts: $FX_KNOWN_HOSTS
    global_known_hosts: ''
    agent: false
    python: $py
  aspw: {transport: sudo, via: web, username: ecsudo_pw, password_env: ECPW, python: $py}
  asnopw: {transport: sudo, via: web, username: ecsudo_nopw, python: $py}
  asroot: {transport: sudo, via: web, python: $py}
EOF
chmod 644 "$cfg"
real=$(pwd)/.libs/econtext # the libtool wrapper script is not what we measure
[ -x "$real" ] || { echo "bench/sudo.sh: build first (.libs/econtext)" >&2; exit 1; }
lib=$(pwd)/core/.libs
ssh="ssh -F /dev/null -o BatchMode=yes -o UserKnownHostsFile=$FX_KNOWN_HOSTS -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o KexAlgorithms=curve25519-sha256 -i $FX_KEY -p $FX_PORT -l $u 127.0.0.1"

echo "== local, the master as $u"
setpriv --reuid=$u --regid=$u --init-groups \
	env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/$u USER=$u LOGNAME=$u \
	LD_LIBRARY_PATH="$lib" ECPW="$pw" \
	hyperfine -N --warmup 3 --runs "$runs" \
	"$py -c pass" \
	"sudo -n -u ecsudo_nopw $py -c pass" \
	"$real -q -c $cfg call local os.getpid" \
	"$real -q -c $cfg call nopw os.getpid" \
	"$real -q -c $cfg call pw os.getpid" 2>&1 | grep -Ev '^ *$'

echo "== via ssh, the master as root, login $u"
unset SSH_AUTH_SOCK
LD_LIBRARY_PATH="$lib" ECPW="$pw" \
	hyperfine -N --warmup 3 --runs "$runs" \
	"$ssh $py -c pass" \
	"$ssh sudo -n -u ecsudo_nopw $py -c pass" \
	"$real -q -c $cfg call web os.getpid" \
	"$real -q -c $cfg call asnopw os.getpid" \
	"$real -q -c $cfg call asroot os.getpid" \
	"$real -q -c $cfg call aspw os.getpid" 2>&1 | grep -Ev '^ *$'
