#!/bin/sh
# sshd-netns.sh: a jump-host topology in network namespaces for the ssh transport's
# tests (root only):
#
#   client 10.77.1.1 --- 10.77.1.2 bastion 10.77.2.1 --- 10.77.2.2 tgt1 10.77.3.1 --- 10.77.3.2 tgt2
#
# Four namespaces with unique names (ecN<pid>-{c,b,t1,t2}), a veth pair per link, no
# routes beyond the links and no forwarding: from the client, only the bastion is
# reachable; tgt1 only from the bastion, tgt2 only from tgt1. An sshd on port 22 in
# bastion, tgt1 and tgt2, each in its own UTS namespace whose host name is its role
# (bastion, tgt1, tgt2). The root namespace is not touched: the test runs its client
# part with `ip netns exec <client ns>`.
#
#   sshd-netns.sh start DIR   exit 77 if this machine does not permit it (not root, no
#                             ip netns, no sshd); writes DIR/env.sh
#   sshd-netns.sh stop DIR    stop the sshds (by pid file), delete the namespaces, remove DIR
#
# DIR/env.sh: NX_CLIENT_NS, NX_KEY (an authorized ed25519 key), NX_KNOWN_HOSTS (every
# host's key under its address), NX_DIR; logs in DIR/<role>.log.
set -eu
. "$(dirname "$0")/fixture-lib.sh"
fx_start_stop_args "$@"

stop() {
	for role in tgt2 tgt1 bastion; do
		fx_sshd_stop "$dir/$role.pid" "$dir/$role.conf"
	done
	if [ -f "$dir/namespaces" ]; then
		for ns in $(cat "$dir/namespaces"); do
			case $ns in ecN*) ;; *) continue ;; esac
			[ -e "/run/netns/$ns" ] || continue
			# Whatever still runs in it is ours (sshd's session children).
			for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
			ip netns del "$ns" 2>/dev/null || true
		done
	fi
	fx_rm_dir "$dir"
}

if [ "$cmd" = stop ]; then
	stop
	exit 0
fi

skip() {
	echo "sshd-netns: $*: skipping the jump-host topology" >&2
	exit 77
}
[ "$(id -u)" = 0 ] || skip "not root"
[ -x "$SSHD" ] || skip "$SSHD not found"
command -v ip >/dev/null || skip "ip (iproute2) not found"
command -v unshare >/dev/null || skip "unshare (util-linux) not found"
command -v ssh-keygen >/dev/null || skip "ssh-keygen not found"

mkdir -p "$dir"
chmod 700 "$dir"
tag=ecN$$
C=$tag-c B=$tag-b T1=$tag-t1 T2=$tag-t2
if ! ip netns add "$C" 2>/dev/null; then
	rm -rf "$dir"
	skip "ip netns add is not permitted here"
fi
echo "$C" >"$dir/namespaces"
for ns in $B $T1 $T2; do
	ip netns add "$ns"
	echo "$ns" >>"$dir/namespaces"
done
trap 'echo "sshd-netns: setup failed" >&2; stop; exit 1' EXIT

# link NS1 DEV1 ADDR1 NS2 DEV2 ADDR2 (interface names are short: at most 15 bytes)
link() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$4" addr add "$6/24" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}
link "$C" e$$c0 10.77.1.1 "$B" e$$b0 10.77.1.2
link "$B" e$$b1 10.77.2.1 "$T1" e$$t0 10.77.2.2
link "$T1" e$$t1 10.77.3.1 "$T2" e$$u0 10.77.3.2
for ns in $C $B $T1 $T2; do
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0
done

fx_keygen ed25519 netns-client "$dir/id_ed25519"
mkdir -p "$dir/authorized_keys"
fx_privsep_dir
cp "$dir/id_ed25519.pub" "$dir/authorized_keys/root"
: >"$dir/known_hosts"

# sshd ROLE NS ADDRESS
sshd_in() {
	role=$1 ns=$2 addr=$3
	fx_keygen ed25519 "netns-$role" "$dir/host_$role"
	fx_sshd_key_config "$dir/$role.conf" "econtext jump-host test: $role" "$dir/authorized_keys" \
		"ListenAddress 0.0.0.0" "Port 22" "HostKey $dir/host_$role" "PidFile $dir/$role.pid" \
		"PasswordAuthentication no" "LogLevel VERBOSE"
	: >"$dir/$role.log"
	ip netns exec "$ns" unshare --uts /bin/sh -c \
		"hostname $role && exec $SSHD -f '$dir/$role.conf' -E '$dir/$role.log'"
	fx_known_host "$addr" "$dir/host_$role.pub" >>"$dir/known_hosts"
}
sshd_in bastion "$B" 10.77.1.2
sshd_in tgt1 "$T1" 10.77.2.2
sshd_in tgt2 "$T2" 10.77.3.2
for role in bastion tgt1 tgt2; do
	if ! fx_wait_pidfile "$dir/$role.pid" "$dir/$role.log"; then
		cat "$dir/$role.log" >&2
		exit 1 # the trap stops everything
	fi
done
trap - EXIT

cat >"$dir/env.sh" <<EOF
NX_DIR='$dir'
NX_CLIENT_NS='$C'
NX_KEY='$dir/id_ed25519'
NX_KNOWN_HOSTS='$dir/known_hosts'
EOF
echo "sshd-netns: client $C -> bastion 10.77.1.2 -> tgt1 10.77.2.2 -> tgt2 10.77.3.2 (dir $dir)"
