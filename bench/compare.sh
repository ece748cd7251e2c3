#!/bin/sh
# bench/compare.sh: this tree against another built tree (a commit before a change that
# must not change speed), alternated in one sitting: local bootstrap to first result
# (bench/alternate.py), the local call round trip (bench/roundtrip, old and new in
# turn), and over ssh to a private sshd (tests/sshd-fixture.sh): bootstrap to first
# result, then bench/sshbench's fresh and second context, round trip and bulk.
#   sh bench/compare.sh OTHER_TREE [ROUNDS]     (both trees built, bench/ included)
# Not a test: timings decide nothing.
set -eu
cd "$(dirname "$0")/.."
old=$(cd "$1" && pwd)
new=$(pwd)
rounds=${2:-3}
py=/usr/bin/python3
for t in "$old" "$new"; do
	for f in .libs/econtext bench/roundtrip bench/sshbench; do
		[ -x "$t/$f" ] || { echo "bench/compare.sh: $t/$f missing (build it)" >&2; exit 1; }
	done
done
ec() { # TREE: the command line of its econtext binary
	echo "env ECONTEXT_CONFIG=/dev/null LD_LIBRARY_PATH=$1/core/.libs $1/.libs/econtext"
}
echo "== local bootstrap to first result, $py (old, new, python -S -c pass)"
python3 bench/alternate.py --runs 60 --warmup 5 \
	"$(ec "$old") -q -o python=$py call local os.getpid" \
	"$(ec "$new") -q -o python=$py call local os.getpid" \
	"$py -S -c pass"
echo "== local round trip, $py, $rounds rounds of old then new"
i=0
while [ $i -lt "$rounds" ]; do
	for t in "$old" "$new"; do
		printf '%s: ' "$([ "$t" = "$old" ] && echo old || echo new)"
		(cd "$t" && env ECONTEXT_CONFIG=/dev/null LD_LIBRARY_PATH="$t/core/.libs" \
			./bench/roundtrip "$py" 10000 | tail -n 1)
	done
	i=$((i + 1))
done
dir=$(mktemp -d /tmp/ecssh-cmp.XXXXXX)
rmdir "$dir"
trap 'sh tests/sshd-fixture.sh stop "$dir" >/dev/null' EXIT
sh tests/sshd-fixture.sh start "$dir" >/dev/null
. "$dir/env.sh"
user=$FX_USER
if [ -n "$FX_PW_USER" ]; then # not root: root's shell rc may run pyenv init
	user=$FX_PW_USER
	cp "$FX_KEY.pub" "$dir/authorized_keys/$user"
	chmod 711 "$dir"
	chmod 755 "$dir/authorized_keys"
	chmod 644 "$dir/authorized_keys/$user"
fi
cfg=$dir/bench.yaml
cat >"$cfg" <<EOC
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
EOC
unset SSH_AUTH_SOCK
echo "== ssh bootstrap to first result (old, new)"
python3 bench/alternate.py --runs 30 --warmup 3 \
	"env LD_LIBRARY_PATH=$old/core/.libs $old/.libs/econtext -q -c $cfg call b os.getpid" \
	"env LD_LIBRARY_PATH=$new/core/.libs $new/.libs/econtext -q -c $cfg call b os.getpid"
echo "== ssh in one process (bench/sshbench: 20 second contexts, round trips, 128 MiB), $rounds rounds"
i=0
while [ $i -lt "$rounds" ]; do
	for t in "$old" "$new"; do
		echo "-- $([ "$t" = "$old" ] && echo old || echo new)"
		(cd "$t" && env LD_LIBRARY_PATH="$t/core/.libs" ./bench/sshbench "$cfg" b 20 128)
	done
	i=$((i + 1))
done
