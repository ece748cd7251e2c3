#!/bin/sh
# bench/transfer-ssh.sh [MiB] [RUNS] [MANY]: `econtext put` and `get` of a file of MiB
# (default 256) over ssh to the loopback sshd of tests/sshd-fixture.sh, on the ssh
# transport and on the same context connected back over TLS (`connect_back: true`),
# alternated (bench/alternate.py) with scp of the same file both ways (Debian's scp
# speaks SFTP), same key, same user (the fixture's test user as root, as bench/ssh.sh
# does); then (MANY=1, the default) 100 MiB put to 20 local contexts at once against
# 20 puts in turn. With MITOGEN_SRC set (a Mitogen source tree, ../shared/anchors/
# README.md says how to get one), Mitogen's put and get (bench/mitogen_xfer.py) join
# the alternation. With LIBSSH2_LIB set (a directory holding another build's
# libssh2.so.1, e.g. 1.11.1 built from its release tag), the ssh transport's put and get
# run again on it, alternated with the rest. Files in a directory of its own under
# /dev/shm (the disk left out).
# Not a test: timings decide nothing.
set -eu
cd "$(dirname "$0")/.."
mib=${1:-256}
runs=${2:-5}
many=${3:-1}
py=/usr/bin/python3
[ -x econtext ] || make econtext >/dev/null
dir=$(mktemp -d /tmp/ecxfer-bench.XXXXXX)
rmdir "$dir"
data=$(mktemp -d /dev/shm/ecxfer-bench.XXXXXX)
trap 'sh tests/sshd-fixture.sh stop "$dir" >/dev/null; rm -rf "$data"' EXIT
sh tests/sshd-fixture.sh start "$dir" >/dev/null
. "$dir/env.sh"
# scp speaks SFTP: the fixture's sshd gets the subsystem (SIGHUP: it re-reads its config).
echo "Subsystem sftp /usr/lib/openssh/sftp-server" >>"$dir/sshd_config"
kill -HUP "$FX_PID"
sleep 1
. bench/sshd-user.sh
chown "$user" "$data"
chmod 755 "$data"
head -c $((mib << 20)) /dev/urandom >"$data/src"
chmod 644 "$data/src"
cp "$data/src" "$data/remote"
chown "$user" "$data/remote" 2>/dev/null || true
cfg=$data/bench.yaml
{
	echo "contexts:"
	echo "  b: {transport: ssh, hostname: 127.0.0.1, port: $FX_PORT, username: $user,"
	echo "      identity_file: $FX_KEY, known_hosts: $FX_KNOWN_HOSTS, global_known_hosts: '',"
	echo "      agent: false, python: $py}"
	echo "  bc: {transport: ssh, hostname: 127.0.0.1, port: $FX_PORT, username: $user,"
	echo "      identity_file: $FX_KEY, known_hosts: $FX_KNOWN_HOSTS, global_known_hosts: '',"
	echo "      agent: false, python: $py, connect_back: true}"
	i=1
	while [ $i -le 20 ]; do
		echo "  m$i: {transport: local, python: $py}"
		i=$((i + 1))
	done
} >"$cfg"
ec=$(pwd)/econtext
real=$(pwd)/.libs/econtext
[ -x "$real" ] && ec=$real
export LD_LIBRARY_PATH=$(pwd)/core/.libs
unset SSH_AUTH_SOCK
ssho="-F /dev/null -o BatchMode=yes -o UserKnownHostsFile=$FX_KNOWN_HOSTS -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -i $FX_KEY -P $FX_PORT"
# A put that always sends: the target removed first (in the timed command, as scp's
# run writes its target too).
cat >"$data/put.sh" <<EOF2
#!/bin/sh
rm -f "$data/dst"
exec "$ec" -q -c "$cfg" put b "$data/src" "$data/dst"
EOF2
# A get that always sends: the local copy removed first (get skips an unchanged file).
cat >"$data/get.sh" <<EOF2
#!/bin/sh
rm -f "$data/back"
exec "$ec" -q -c "$cfg" get b "$data/remote" "$data/back"
EOF2
sed 's/ b / bc /' "$data/put.sh" >"$data/put-tls.sh"
sed 's/ b / bc /' "$data/get.sh" >"$data/get-tls.sh"
cat >"$data/many.sh" <<EOF2
#!/bin/sh
rm -f "$data"/d20-*
exec "$ec" -q -c "$cfg" --json put 'm*' "$data/src100" "$data/d20-1"
EOF2
cat >"$data/seq.sh" <<EOF2
#!/bin/sh
rm -f "$data"/s20-*
i=1
while [ \$i -le 20 ]; do
	"$ec" -q -c "$cfg" put m\$i "$data/src100" "$data/s20-\$i" >/dev/null || exit 1
	i=\$((i + 1))
done
EOF2
chmod 755 "$data"/*.sh
set -- "$data/put.sh" "$data/put-tls.sh" "scp -q $ssho $data/src $user@127.0.0.1:$data/dst" \
	"$data/get.sh" "$data/get-tls.sh" "scp -q $ssho $user@127.0.0.1:$data/remote $data/back"
if [ -n "${MITOGEN_SRC:-}" ]; then
	# Its master as ../shared/anchors/README.md asks: bytecode cached (the variables
	# unset), Debian's python3 (never pyenv's shim).
	mx="env -u PYTHONUNBUFFERED -u PYTHONDONTWRITEBYTECODE MITOGEN_SRC=$MITOGEN_SRC $py"
	mx="$mx $(pwd)/bench/mitogen_xfer.py"
	mo="--port $FX_PORT --user $user --key $FX_KEY --python $py"
	set -- "$@" "$mx put $data/src $data/mdst $mo" "$mx get $data/remote $data/mback $mo"
fi
if [ -n "${LIBSSH2_LIB:-}" ]; then
	# The same econtext and plugins, another libssh2 ahead of the system's on the path.
	alt="env LD_LIBRARY_PATH=$LIBSSH2_LIB:$LD_LIBRARY_PATH"
	set -- "$@" "$alt $data/put.sh" "$alt $data/get.sh"
fi
echo "== $mib MiB over ssh (127.0.0.1:$FX_PORT, user $user), $runs alternated runs"
python3 bench/alternate.py --warmup 1 --runs "$runs" "$@"
[ "$many" = 1 ] || exit 0
head -c $((100 << 20)) /dev/urandom >"$data/src100"
echo "== 100 MiB to 20 local contexts: at once (one put, --forks 20) and in turn"
# At once: one REMOTE_PATH for all 20 (as on 20 hosts), so this machine writes one
# name 20 times; in turn: 20 names. The same bytes written either way.
python3 bench/alternate.py --warmup 1 --runs "$runs" "$data/many.sh" "$data/seq.sh"
