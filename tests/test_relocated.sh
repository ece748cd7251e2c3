#!/bin/sh
# test_relocated.sh: an interpreter whose installation moved after it was built
# (python-build-standalone as uv installs it, a relocated conda) finds its prefix only
# from the path it is started by. The context is re-executed under the argv[0]
# "econtext:..." (a name, not a path), so the exec stage names the installation in
# PYTHONHOME (payload/exec_stage.py) and the core takes it out again. Here each
# interpreter's installation is moved for real in a private mount namespace: bound to a
# new place, its old place hidden under an empty tmpfs. Needs root (unshare -m).
builddir=${EC_TEST_BUILDDIR:-.}
ec="$(cd "$builddir" && pwd)/econtext"
export ECONTEXT_CONFIG=/dev/null
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
	echo "SKIP: needs root and unshare (a private mount namespace)"
	exit 77
fi
pass=0 fail=0 skip=0
tmp=$(mktemp -d /tmp/ec_reloc.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for p in /usr/bin/python3 /root/.pyenv/versions/2.7*/bin/python /root/.pyenv/versions/3.13*/bin/python; do
	[ -x "$p" ] || { echo "skip - $p absent"; skip=$((skip + 1)); continue; }
	info=$("$p" -S -c 'import sys; b = getattr(sys, "real_prefix", None) or getattr(sys, "base_prefix", sys.prefix); print("%s %d.%d" % (b, sys.version_info[0], sys.version_info[1]))') || continue
	set -- $info
	prefix=$1 ver=$2
	d=$tmp/$(echo "$p" | tr / _)
	mkdir -p "$d/reloc/bin" "$d/cache"
	if [ "$prefix" = /usr ]; then
		# A system interpreter: move its standard library, copy its binary.
		what=/usr/lib/python$ver
		mkdir -p "$d/reloc/lib/python$ver"
		cp "$(readlink -f "$p")" "$d/reloc/bin/python"
		moves="mount --bind $what $d/reloc/lib/python$ver && mount -t tmpfs none $what"
	else
		# A self-contained installation (pyenv): move all of it.
		what=$prefix
		cp "$(readlink -f "$p")" "$d/reloc/bin/python" # its path in the new place
		mkdir -p "$d/tree"
		moves="mount --bind $prefix $d/tree && mount -t tmpfs none $prefix"
		ln -s ../tree/lib "$d/reloc/lib"
	fi
	out=$d/out err=$d/err
	unshare -m --propagation private sh -c "
		$moves || exit 99
		export LD_LIBRARY_PATH=$d/reloc/lib:$d/tree/lib XDG_CACHE_HOME=$d/cache
		$d/reloc/bin/python -S -c 'import sys, zlib; print(sys.prefix)' >$d/direct 2>&1 || exit 98
		echo \"--- econtext\" >&2
		$ec -o python=$d/reloc/bin/python call local sys.__getattribute__ prefix || exit 1
		$ec -o python=$d/reloc/bin/python call local os.getenv PYTHONHOME || exit 1
		PYTHONHOME=$d/reloc $ec -o python=$d/reloc/bin/python call local os.getenv PYTHONHOME || exit 1
	" >"$out" 2>"$err"
	rc=$?
	if [ $rc = 99 ] || [ $rc = 98 ]; then
		echo "skip - $p ($ver): cannot move it here (rc $rc)"
		cat "$err" "$d/direct" 2>/dev/null | sed 's/^/    /' | head -5
		skip=$((skip + 1))
		continue
	fi
	# The prefix the context found (the new place), PYTHONHOME gone from its
	# environment, and a PYTHONHOME the master had passed on as it was.
	if [ $rc = 0 ] && [ "$(sed -n 1p "$out")" = "\"$d/reloc\"" ]; then
		if [ "$(sed -n 2p "$out")" = null ] && [ "$(sed -n 3p "$out")" = "\"$d/reloc\"" ]; then
			echo "ok - $p ($ver) moved from $what: context started, prefix $(sed -n 1p "$out")"
			pass=$((pass + 1))
			continue
		fi
	fi
	echo "FAIL - $p ($ver) moved from $what (exit $rc)"
	sed 's/^/    /' "$out" "$err" | head -20
	fail=$((fail + 1))
done
echo "RESULT: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
