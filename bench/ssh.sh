#!/bin/sh
# bench/ssh.sh: the ssh transport against the OpenSSH client, on the same private sshd
# (tests/sshd-fixture.sh, on 127.0.0.1), with the same ed25519 key and the same user.
# Run from a built tree:   sh bench/ssh.sh [TOTAL_MB]
# Not a test: timings decide nothing. Needs hyperfine and the OpenSSH client.
#
# As root, the fixture's test user (shell /bin/sh, created and deleted by the fixture)
# logs in, not root: root's ~/.bashrc here runs `pyenv init`, which adds ~170 ms to
# every exec for econtext and OpenSSH alike. Interpreters by absolute path (no shim).
set -eu
cd "$(dirname "$0")/.."
total_mb=${1:-256}
command -v hyperfine >/dev/null || { echo "bench/ssh.sh: hyperfine not found" >&2; exit 1; }
command -v ssh >/dev/null || { echo "bench/ssh.sh: ssh (OpenSSH client) not found" >&2; exit 1; }
[ -x bench/sshbench ] || make bench/sshbench >/dev/null
[ -x bench/libssh2cat ] || make bench/libssh2cat >/dev/null
py=/usr/bin/python3
[ -x "$py" ] || { echo "bench/ssh.sh: $py not found" >&2; exit 1; }

dir=$(mktemp -d /tmp/ecssh-bench.XXXXXX)
rmdir "$dir"
trap 'sh tests/sshd-fixture.sh stop "$dir" >/dev/null' EXIT
sh tests/sshd-fixture.sh start "$dir" >/dev/null
. "$dir/env.sh"
. bench/sshd-user.sh
echo "sshd $(sshd -V 2>&1 | head -1 || true) on 127.0.0.1:$FX_PORT, user $user, python $py"

cfg=$dir/bench.yaml
cat >"$cfg" <<EOF
contexts:
  b:
    transport: ssh
    hostname: 127.0.0.1
    port: $FX_PORT
    username: $user
    identity_file: $FX_KEY
    known_hosts: $FX_KNOWN_HOSTS
    global_known_hosts: ''
    agent: false
    python: $py
  j:
    transport: ssh
    hostname: 127.0.0.1
    port: $FX_PORT
    username: $user
    identity_file: $FX_KEY
    known_hosts: $FX_KNOWN_HOSTS
    global_known_hosts: ''
    agent: false
    python: $py
    via: b
EOF
ec=$(pwd)/econtext
real=$(pwd)/.libs/econtext
[ -x "$real" ] && ec=$real # the libtool wrapper script is not what we measure
export LD_LIBRARY_PATH=$(pwd)/core/.libs
unset SSH_AUTH_SOCK
ssh="ssh -F /dev/null -o BatchMode=yes -o UserKnownHostsFile=$FX_KNOWN_HOSTS -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -i $FX_KEY -p $FX_PORT -l $user 127.0.0.1"
# libssh2 1.10 negotiates curve25519-sha256; OpenSSH 9 prefers sntrup761x25519 (slower).
sshc="$ssh -o KexAlgorithms=curve25519-sha256"

echo "== bootstrap to first result"
hyperfine -N --warmup 3 --runs 30 \
	"$ssh true" \
	"$sshc true" \
	"$ssh $py -c pass" \
	"$sshc $py -c pass" \
	"$ec -q -c $cfg call b os.getpid" 2>&1 | grep -Ev '^ *$'

echo "== in one process: fresh context, second context (channel only), round trips, bulk"
./bench/sshbench "$cfg" b 20 "$total_mb"

echo "== the same through one jump host (the same sshd as hop: a direct-tcpip tunnel)"
./bench/sshbench "$cfg" j 20 "$total_mb"
hyperfine -N --warmup 3 --runs 30 "$ec -q -c $cfg call j os.getpid" 2>&1 | grep -Ev '^ *$'

echo "== bulk: ssh host cat FILE ($total_mb MiB) to /dev/null"
head -c $((total_mb * 1024 * 1024)) /dev/zero >"$dir/bulk.bin"
chmod 644 "$dir/bulk.bin"
hyperfine -N --warmup 1 --runs 8 "$sshc cat $dir/bulk.bin" "$sshc true" 2>&1 | grep -Ev '^ *$'
# From the first byte to EOF, alternated: libssh2 1.10 alone (no econtext: what any
# transport on it can reach at most), OpenSSH's client, the ssh transport.
echo "== bulk, first byte to EOF, alternated: libssh2 alone / ssh cat / the ssh transport"
for i in 1 2 3 4 5; do
	./bench/libssh2cat 127.0.0.1 "$FX_PORT" "$user" "$FX_KEY" "cat $dir/bulk.bin"
	$sshc cat "$dir/bulk.bin" | "$py" -c '
import sys, time
f = sys.stdin.buffer; n = len(f.read(1)); t0 = time.perf_counter()
while True:
    b = f.read(1 << 20)
    if not b: break
    n += len(b)
dt = time.perf_counter() - t0
print("OpenSSH ssh cat: %d MiB in %.3f s, %.1f MiB/s" % (n >> 20, dt, n / dt / 1048576))'
	./bench/sshbench "$cfg" b 1 "$total_mb" | grep "bulk context"
done
