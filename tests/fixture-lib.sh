# fixture-lib.sh: what the test fixture scripts share (sourced with `.`, POSIX sh):
# the start|stop DIR command line, sshd configs, starting an sshd and stopping our own
# by its pid file, test users marked by their GECOS field, keys, ports, directories.
# Functions are fx_*; the variables they set are named where they do.

SSHD=${SSHD:-/usr/sbin/sshd}

# fx_start_stop_args "$@": cmd and dir from a `start|stop DIR` command line; a usage
# message and exit 2 for anything else.
fx_start_stop_args() {
	cmd=${1:-}
	dir=${2:-}
	case $cmd in
	start | stop) [ -n "$dir" ] && return 0 ;;
	esac
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}

# fx_rm_dir DIR: remove a fixture's directory (only ever under /tmp or /var/tmp).
fx_rm_dir() {
	case $1 in
	/tmp/* | /var/tmp/*) rm -rf "$1" ;;
	esac
}

# fx_keygen TYPE COMMENT FILE [BITS]: a key pair without a passphrase, FILE and FILE.pub.
fx_keygen() {
	ssh-keygen -q -t "$1" ${4:+-b "$4"} -N '' -C "$2" -f "$3"
}

# fx_known_host HOST PUBFILE: the known_hosts line of the key in PUBFILE for HOST.
fx_known_host() {
	printf '%s %s\n' "$1" "$(cut -d' ' -f1,2 "$2")"
}

# fx_rand_port: a port number between 20000 and 59999.
fx_rand_port() {
	echo $((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
}

# fx_privsep_dir: the privilege separation directory a root-run sshd needs.
fx_privsep_dir() {
	mkdir -p /run/sshd
	chmod 755 /run/sshd
}

# fx_sshd_config FILE TITLE "Keyword value"...: write FILE, an sshd_config with TITLE as
# its first comment, the lines given, and what every test sshd has (no StrictModes, motd,
# last log or DNS lookups).
fx_sshd_config() {
	_file=$1 _title=$2
	shift 2
	{
		echo "# $_title"
		printf '%s\n' "$@"
		printf '%s\n' "StrictModes no" "PrintMotd no" "PrintLastLog no" "UseDNS no"
	} >"$_file"
}

# fx_sshd_key_config FILE TITLE AUTHDIR "Keyword value"...: the same for an sshd that
# lets users in by key (AUTHDIR/USER holds USER's authorized keys, root included) and
# carries port forwardings and many sessions, with the lines given.
fx_sshd_key_config() {
	_file=$1 _title=$2 _authdir=$3
	shift 3
	fx_sshd_config "$_file" "$_title" "$@" "AuthorizedKeysFile $_authdir/%u" "UsePAM no" \
		"PermitRootLogin prohibit-password" "PubkeyAuthentication yes" \
		"KbdInteractiveAuthentication no" "AllowTcpForwarding yes" \
		"MaxStartups 100:30:200" "MaxSessions 50"
}

# fx_wait_pidfile PIDFILE LOG: wait (up to about 30 s) for a starting sshd to write its
# pid file; 0 once it has, 1 if it did not or its log says it cannot bind.
fx_wait_pidfile() {
	_i=0
	while [ $_i -lt 1500 ] && [ ! -s "$1" ]; do
		grep -q 'Bind to port\|Cannot bind' "$2" 2>/dev/null && break
		sleep 0.02
		_i=$((_i + 1))
	done
	[ -s "$1" ]
}

# fx_sshd_start CONFIG LOG PIDFILE: start sshd (it daemonises) with CONFIG, logging to
# LOG (emptied), and wait for PIDFILE (the config's PidFile); 0 once it is there.
fx_sshd_start() {
	rm -f "$3"
	: >"$2"
	"$SSHD" -f "$1" -E "$2" || true
	fx_wait_pidfile "$3" "$2"
}

# fx_sshd_stop PIDFILE CONFIG: stop the sshd of PIDFILE if it is ours (its command line
# names CONFIG): SIGTERM, up to 2 s to go, then SIGKILL; remove PIDFILE.
fx_sshd_stop() {
	[ -f "$1" ] || return 0
	_pid=$(cat "$1")
	if [ -n "$_pid" ] && tr '\0' ' ' <"/proc/$_pid/cmdline" 2>/dev/null | grep -qF "$2"; then
		kill "$_pid" 2>/dev/null || true
		_i=0
		while [ $_i -lt 100 ] && kill -0 "$_pid" 2>/dev/null; do
			sleep 0.02
			_i=$((_i + 1))
		done
		kill -9 "$_pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

# fx_user_is_ours USER MARK: 0 if USER exists and its GECOS field is MARK.
fx_user_is_ours() {
	[ "$(getent passwd "$1" | cut -d: -f5)" = "$2" ]
}

# fx_user_add USER MARK: create USER (a home, /bin/sh) marked with MARK as its GECOS.
fx_user_add() {
	useradd -m -s /bin/sh -c "$2" "$1"
}

# fx_user_del USER MARK: delete USER, its home and its processes, if it is ours;
# 1 (nothing done) if it is not.
fx_user_del() {
	fx_user_is_ours "$1" "$2" || return 1
	# processes of the user would make userdel fail
	_i=0
	while _pids=$(ps -o pid= -u "$1" 2>/dev/null) && [ -n "$_pids" ] && [ $_i -lt 100 ]; do
		kill -9 $_pids 2>/dev/null || true
		sleep 0.02
		_i=$((_i + 1))
	done
	userdel -r "$1" >/dev/null 2>&1 || userdel -f -r "$1" >/dev/null 2>&1 || true
}
