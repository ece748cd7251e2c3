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
# FX_HOSTKEY_ED25519_PUB, FX_KEY_RSA (an authorized RSA key, which libssh2 1.10 cannot
# use with this OpenSSH), FX_LOG (sshd's log, at LogLevel DEBUG), and, when run as root,
# FX_PW_USER / FX_PW_PASSWORD: a user created for the password tests (GECOS
# "ecsshfixture", deleted by stop), and FX_PAM_PORT: a second sshd with UsePAM yes that
# accepts keyboard-interactive only (empty when it could not start).
# Host keys are ed25519 and ecdsa only: libssh2 1.10 cannot sign with rsa-sha2.
set -eu
. "$(dirname "$0")/fixture-lib.sh"
fx_start_stop_args "$@"
MARK=ecsshfixture

stop() {
	fx_sshd_stop "$dir/sshd.pid" "$dir/sshd_config"
	fx_sshd_stop "$dir/sshd_pam.pid" "$dir/sshd_pam_config"
	if [ -f "$dir/pwuser" ]; then
		fx_user_del "$(cat "$dir/pwuser")" "$MARK" || true
	fi
	fx_rm_dir "$dir"
}

if [ "$cmd" = stop ]; then
	stop
	exit 0
fi

if [ ! -x "$SSHD" ]; then
	echo "sshd-fixture: $SSHD not found (Debian package openssh-server): skipping" >&2
	exit 77
fi
command -v ssh-keygen >/dev/null || { echo "sshd-fixture: ssh-keygen not found (openssh-client): skipping" >&2; exit 77; }

mkdir -p "$dir"
chmod 700 "$dir"
me=$(id -un)
fx_keygen ed25519 fixture-host "$dir/host_ed25519"
fx_keygen ecdsa fixture-host "$dir/host_ecdsa"
fx_keygen ed25519 fixture-client "$dir/id_ed25519"
fx_keygen ed25519 fixture-other "$dir/id_other"
fx_keygen rsa fixture-rsa "$dir/id_rsa" 2048
mkdir -p "$dir/authorized_keys"
cat "$dir/id_ed25519.pub" "$dir/id_rsa.pub" >"$dir/authorized_keys/$me"

pwuser=
pwpass=
if [ "$(id -u)" = 0 ] && command -v useradd >/dev/null && command -v chpasswd >/dev/null; then
	pwuser=ecsf$$
	if fx_user_add "$pwuser" "$MARK" 2>/dev/null; then
		echo "$pwuser" >"$dir/pwuser"
		pwpass=fx-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
		printf '%s:%s\n' "$pwuser" "$pwpass" | chpasswd
	else
		pwuser=
	fi
	fx_privsep_dir
fi

started=
for attempt in 1 2 3 4 5 6 7 8 9 10; do
	port=$(fx_rand_port)
	fx_sshd_key_config "$dir/sshd_config" "econtext test fixture" "$dir/authorized_keys" \
		"ListenAddress 127.0.0.1" "Port $port" "HostKey $dir/host_ed25519" \
		"HostKey $dir/host_ecdsa" "PidFile $dir/sshd.pid" "PasswordAuthentication yes" \
		"LoginGraceTime 30" "LogLevel DEBUG"
	# Daemonises; the pid file appears once it listens.
	if fx_sshd_start "$dir/sshd_config" "$dir/sshd.log" "$dir/sshd.pid"; then
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

# keyboard-interactive needs PAM (root: it runs as the password user).
pam_port=
if [ -n "$pwuser" ] && [ -f /etc/pam.d/sshd ]; then
	for attempt in 1 2 3 4 5; do
		p2=$(fx_rand_port)
		[ "$p2" = "$port" ] && continue
		fx_sshd_config "$dir/sshd_pam_config" \
			"econtext test fixture: keyboard-interactive through PAM" \
			"ListenAddress 127.0.0.1" "Port $p2" "HostKey $dir/host_ed25519" \
			"HostKey $dir/host_ecdsa" "PidFile $dir/sshd_pam.pid" "UsePAM yes" \
			"PermitRootLogin no" "PubkeyAuthentication no" "PasswordAuthentication no" \
			"KbdInteractiveAuthentication yes" "LogLevel VERBOSE"
		if fx_sshd_start "$dir/sshd_pam_config" "$dir/sshd_pam.log" "$dir/sshd_pam.pid"; then
			pam_port=$p2
			break
		fi
	done
fi

{
	fx_known_host "[127.0.0.1]:$port" "$dir/host_ed25519.pub"
	fx_known_host "[127.0.0.1]:$port" "$dir/host_ecdsa.pub"
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
FX_KEY_RSA='$dir/id_rsa'
FX_LOG='$dir/sshd.log'
FX_PAM_PORT='$pam_port'
EOF
echo "sshd-fixture: sshd pid $(cat "$dir/sshd.pid") on 127.0.0.1:$port (dir $dir)"
