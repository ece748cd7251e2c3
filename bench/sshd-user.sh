# bench/sshd-user.sh: sourced by the ssh benches once tests/sshd-fixture.sh has started
# in $dir and $dir/env.sh is read: $user, who logs in. As root that is the fixture's
# test user (shell /bin/sh), not root: root's ~/.bashrc here runs `pyenv init`, which
# adds ~170 ms to every exec; the fixture's key is authorized for it.
user=$FX_USER
if [ -n "$FX_PW_USER" ]; then
	user=$FX_PW_USER
	cp "$FX_KEY.pub" "$dir/authorized_keys/$user"
	# sshd reads authorized_keys and the user reads the bulk file as that user.
	chmod 711 "$dir"
	chmod 755 "$dir/authorized_keys"
	chmod 644 "$dir/authorized_keys/$user"
fi
