#!/bin/sh
# sudo_fixture.sh: test users and a sudoers drop-in for tests/test_sudo.c.
#
#   sudo_fixture.sh setup      (as root; the password in $EC_SUDO_TEST_PASSWORD)
#   sudo_fixture.sh teardown   (as root; idempotent, also after a partial setup)
#
# Users (GECOS "econtext-sudo-test": teardown deletes only users with that marker, and
# setup refuses to take over a user without it):
#   ecsudo_src   runs the master; sudo asks for its password (the invoking user's)
#   ecsudo_tty   like ecsudo_src, but `requiretty`
#   ecsudo_lect  like ecsudo_src, but `lecture=always` (text before the prompt)
#   ecsudo_pw    a target that ecsudo_src and ecsudo_lect may become with a password
#   ecsudo_nopw  a target that ecsudo_src and ecsudo_tty may become without one
#   ecsudo_ssh   logs in over ssh for tests/test_sudo_ssh.c; may become ecsudo_pw with
#                its password, ecsudo_nopw without one, and root without one but only
#                to run /usr/bin/python3
# No other may become root. Every source user has timestamp_timeout=0: with cached
# credentials a wrong password would pass unnoticed (../shared/testinfra/README.md).
# The sudoers file is checked with visudo -cf and installed with mode 0440.
set -u
. "$(dirname "$0")/fixture-lib.sh"
MARK=econtext-sudo-test
SUDOERS=/etc/sudoers.d/econtext-sudo-test
SOURCES="ecsudo_src ecsudo_tty ecsudo_lect ecsudo_ssh"
TARGETS="ecsudo_pw ecsudo_nopw"

die() {
	echo "sudo_fixture.sh: $*" >&2
	exit 1
}

teardown() {
	rm -f "$SUDOERS"
	for u in $SOURCES $TARGETS; do
		getent passwd "$u" >/dev/null || continue
		if ! fx_user_del "$u" "$MARK"; then
			echo "sudo_fixture.sh: leaving user $u alone (not ours)" >&2
			continue
		fi
		rm -f "/var/lib/sudo/lectured/$u" "/run/sudo/ts/$u"
	done
	return 0
}

setup() {
	[ "$(id -u)" = 0 ] || die "must run as root"
	[ -n "${EC_SUDO_TEST_PASSWORD:-}" ] || die "EC_SUDO_TEST_PASSWORD is not set"
	for b in useradd userdel chpasswd visudo; do
		command -v "$b" >/dev/null 2>&1 || die "$b not found"
	done
	for u in $SOURCES $TARGETS; do
		if getent passwd "$u" >/dev/null; then
			fx_user_is_ours "$u" "$MARK" ||
				die "user $u exists but is not a test user (GECOS is not $MARK)"
		else
			fx_user_add "$u" "$MARK" || die "useradd $u failed"
		fi
	done
	for u in $SOURCES; do
		printf '%s:%s\n' "$u" "$EC_SUDO_TEST_PASSWORD"
	done | chpasswd || die "chpasswd failed"
	for u in $TARGETS; do
		usermod -p '*' "$u" || die "usermod $u failed"
	done
	tmp=$(mktemp) || die "mktemp failed"
	cat >"$tmp" <<EOF
# created by econtext's tests/sudo_fixture.sh; removed by its teardown
Defaults:ecsudo_src timestamp_timeout=0, lecture=never
Defaults:ecsudo_tty timestamp_timeout=0, lecture=never, requiretty
Defaults:ecsudo_lect timestamp_timeout=0, lecture=always
Defaults:ecsudo_ssh timestamp_timeout=0, lecture=never
ecsudo_src ALL=(ecsudo_pw) ALL
ecsudo_src ALL=(ecsudo_nopw) NOPASSWD: ALL
ecsudo_tty ALL=(ecsudo_nopw) NOPASSWD: ALL
ecsudo_lect ALL=(ecsudo_pw) ALL
ecsudo_ssh ALL=(ecsudo_pw) ALL
ecsudo_ssh ALL=(ecsudo_nopw) NOPASSWD: ALL
ecsudo_ssh ALL=(root) NOPASSWD: /usr/bin/python3
EOF
	if ! visudo -cqf "$tmp"; then
		rm -f "$tmp"
		die "the generated sudoers file does not parse"
	fi
	install -m 0440 -o root -g root "$tmp" "$SUDOERS" || die "cannot install $SUDOERS"
	rm -f "$tmp"
	for u in $SOURCES; do
		rm -f "/var/lib/sudo/lectured/$u" "/run/sudo/ts/$u"
	done
	return 0
}

case "${1:-}" in
setup) setup ;;
teardown) teardown ;;
*)
	echo "usage: sudo_fixture.sh setup|teardown" >&2
	exit 2
	;;
esac
