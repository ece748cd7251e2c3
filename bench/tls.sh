#!/bin/sh
# bench/tls.sh: connect-back over TLS (docs/tls.md) against the transports it rides on,
# alternated in one sitting: bulk from an ssh-launched context connected back to the
# loopback master vs the ssh transport vs `ssh host cat` of the same bytes; a local
# context connected back vs a local one; what connect-back adds to a boot (the median
# of N second contexts, each to its first result).
# Run from a built tree:   sh bench/tls.sh [TOTAL_MB] [ROUNDS] [N]
# Not a test: timings decide nothing. Needs the OpenSSH client and sshd.
set -eu
cd "$(dirname "$0")/.."
total_mb=${1:-256}
rounds=${2:-3}
n=${3:-20}
command -v ssh >/dev/null || { echo "bench/tls.sh: ssh (OpenSSH client) not found" >&2; exit 1; }
[ -x bench/sshbench ] || make bench/sshbench >/dev/null
py=/usr/bin/python3
[ -x "$py" ] || { echo "bench/tls.sh: $py not found" >&2; exit 1; }

dir=$(mktemp -d /tmp/ectls-bench.XXXXXX)
rmdir "$dir"
trap 'sh tests/sshd-fixture.sh stop "$dir" >/dev/null' EXIT
sh tests/sshd-fixture.sh start "$dir" >/dev/null
. "$dir/env.sh"
. bench/sshd-user.sh
echo "sshd on 127.0.0.1:$FX_PORT, user $user, python $py, $total_mb MiB per bulk run"

cfg=$dir/bench.yaml
ssh_ctx="transport: ssh, hostname: 127.0.0.1, port: $FX_PORT, username: $user,
    identity_file: $FX_KEY, known_hosts: $FX_KNOWN_HOSTS, global_known_hosts: '',
    agent: false, python: $py"
libs=$(pwd)/plugins
cat >"$cfg" <<YAML
plugin_path: [$libs/local/.libs, $libs/tls/.libs, $libs/ssh/.libs, $libs/pickle/.libs]
contexts:
  s: {$ssh_ctx}
  sc: {$ssh_ctx, connect_back: true}
  l: {transport: local, python: $py}
  lc: {transport: local, python: $py, connect_back: true}
YAML
export LD_LIBRARY_PATH=$(pwd)/core/.libs
unset SSH_AUTH_SOCK
sshc="ssh -F /dev/null -o BatchMode=yes -o UserKnownHostsFile=$FX_KNOWN_HOSTS -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -i $FX_KEY -p $FX_PORT -l $user -o KexAlgorithms=curve25519-sha256 127.0.0.1"
head -c $((total_mb * 1024 * 1024)) /dev/zero >"$dir/bulk.bin"
chmod 644 "$dir/bulk.bin"

one() { # CONTEXT: the bulk and second-context lines of sshbench, prefixed
	./bench/sshbench "$cfg" "$1" "$n" "$total_mb" |
		grep -E "second context|bulk context|two calls" | sed "s/^/$1  /"
}
i=0
while [ $i -lt "$rounds" ]; do
	i=$((i + 1))
	echo "== round $i"
	one s
	one sc
	$sshc cat "$dir/bulk.bin" | "$py" -c '
import sys, time
f = sys.stdin.buffer; n = len(f.read(1)); t0 = time.perf_counter()
while True:
    b = f.read(1 << 20)
    if not b: break
    n += len(b)
dt = time.perf_counter() - t0
print("ssh cat, first byte to EOF: %d MiB in %.3f s, %.1f MiB/s" % (n >> 20, dt, n / dt / 1048576))'
	one l
	one lc
done
