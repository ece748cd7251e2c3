#!/bin/sh
# sshd-fixture.sh: a private OpenSSH sshd on 127.0.0.1 for the ssh transport's tests.
#
#   sshd-fixture.sh start DIR   generate keys and a config in DIR (which must exist and
#                               be empty or absent), start sshd on a free high port,
#                               write DIR/env.sh; exit 77 if sshd is not installed
#   sshd-fixture.sh stop DIR    stop that sshd (by its pid file), delete the test user
#                               it created, remove DIR
#
# DIR/env.sh sets: FX_PORT, FX_PID, FX_USER (the local user: root in CI), FX_KEY (an
# authorized ed25519 key), FX_KEY_OTHER (an ed25519 key nobody authorized),
# FX_KNOWN_HOSTS (the host's ed25519 and ecdsa keys, as "[127.0.0.1]:PORT"),
# FX_HOSTKEY_ED25519_PUB, and, when run as root, FX_PW_USER / FX_PW_PASSWORD: a user
# created for the password tests (GECOS "ecsshfixture", deleted by stop).
# Host keys are ed25519 and ecdsa only: libssh2 1.10 cannot sign with rsa-sha2.
set -eu
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
SSHD=${SSHD:-/usr/sbin/sshd}
MARK=ecsshfixture

stop() {
	if [ -f "$dir/sshd.pid" ]; then
		pid=$(cat "$dir/sshd.pid")
		# Only our own sshd: its command line names our config file.
		if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/sshd_config"; then
			kill "$pid" 2>/dev/null || true
			i=0
			while [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.02; i=$((i + 1)); done
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$dir/sshd.pid"
	fi
	if [ -f "$dir/pwuser" ]; then
		u=$(cat "$dir/pwuser")
		if [ "$(getent passwd "$u" | cut -d: -f5)" = "$MARK" ]; then
			pids=$(ps -o pid= -u "$u" 2>/dev/null || true)
			[ -n "$pids" ] && kill $pids 2>/dev/null || true
			userdel -r "$u" >/dev/null 2>&1 || userdel -f -r "$u" >/dev/null 2>&1 || true
		fi
	fi
	case $dir in
	/tmp/* | /var/tmp/*) rm -rf "$dir" ;;
	esac
}

case $cmd in
stop)
	stop
	exit 0
	;;
start) ;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac

if [ ! -x "$SSHD" ]; then
	echo "sshd-fixture: $SSHD not found (Debian package openssh-server): skipping" >&2
	exit 77
fi
command -v ssh-keygen >/dev/null || { echo "sshd-fixture: ssh-keygen not found (openssh-client): skipping" >&2; exit 77; }

mkdir -p "$dir"
chmod 700 "$dir"
me=$(id -un)
ssh-keygen -q -t ed25519 -N '' -C fixture-host -f "$dir/host_ed25519"
ssh-keygen -q -t ecdsa -N '' -C fixture-host -f "$dir/host_ecdsa"
ssh-keygen -q -t ed25519 -N '' -C fixture-client -f "$dir/id_ed25519"
ssh-keygen -q -t ed25519 -N '' -C fixture-other -f "$dir/id_other"
mkdir -p "$dir/authorized_keys"
cp "$dir/id_ed25519.pub" "$dir/authorized_keys/$me"

pwuser=
pwpass=
if [ "$(id -u)" = 0 ] && command -v useradd >/dev/null && command -v chpasswd >/dev/null; then
	pwuser=ecsf$$
	if useradd -m -s /bin/sh -c "$MARK" "$pwuser" 2>/dev/null; then
		echo "$pwuser" >"$dir/pwuser"
		pwpass=fx-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
		printf '%s:%s\n' "$pwuser" "$pwpass" | chpasswd
	else
		pwuser=
	fi
	# A root-run sshd needs its privilege separation directory.
	mkdir -p /run/sshd
	chmod 755 /run/sshd
fi

rand_port() {
	echo $((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
}

started=
for attempt in 1 2 3 4 5 6 7 8 9 10; do
	port=$(rand_port)
	cat >"$dir/sshd_config" <<EOF
# econtext test fixture
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_ed25519
HostKey $dir/host_ecdsa
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys/%u
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
AllowTcpForwarding yes
MaxStartups 100:30:200
MaxSessions 50
LoginGraceTime 30
PrintMotd no
PrintLastLog no
UseDNS no
LogLevel VERBOSE
EOF
	rm -f "$dir/sshd.pid"
	: >"$dir/sshd.log"
	# Daemonises; the pid file appears once it listens.
	"$SSHD" -f "$dir/sshd_config" -E "$dir/sshd.log" || true
	i=0
	while [ $i -lt 150 ] && [ ! -s "$dir/sshd.pid" ]; do
		grep -q 'Bind to port\|Cannot bind' "$dir/sshd.log" 2>/dev/null && break
		sleep 0.02
		i=$((i + 1))
	done
	if [ -s "$dir/sshd.pid" ]; then
		started=1
		break
	fi
done
if [ -z "$started" ]; then
	cat "$dir/sshd.log" >&2
	echo "sshd-fixture: sshd did not start" >&2
	stop
	exit 1
fi

{
	printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$dir/host_ed25519.pub")"
	printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$dir/host_ecdsa.pub")"
} >"$dir/known_hosts"

cat >"$dir/env.sh" <<EOF
FX_DIR='$dir'
FX_PORT=$port
FX_PID=$(cat "$dir/sshd.pid")
FX_USER='$me'
FX_KEY='$dir/id_ed25519'
FX_KEY_OTHER='$dir/id_other'
FX_KNOWN_HOSTS='$dir/known_hosts'
FX_HOSTKEY_ED25519_PUB='$dir/host_ed25519.pub'
FX_PW_USER='$pwuser'
FX_PW_PASSWORD='$pwpass'
EOF
echo "sshd-fixture: sshd pid $(cat "$dir/sshd.pid") on 127.0.0.1:$port (dir $dir)"
