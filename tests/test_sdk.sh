#!/bin/sh
# test_sdk.sh: a plugin built as a third party builds it. This build tree is installed
# with `make install DESTDIR=`; the example transports examples/plugin-nice and
# examples/plugin-nsenter are copied out of the tree and built with their own
# Makefiles, knowing econtext only through `pkg-config econtext-plugin` (the installed
# module, under PKG_CONFIG_SYSROOT_DIR); installed under a prefix of their own; loaded
# by the installed econtext through a config's plugin_path; and calls run through them.
# The nsenter calls need root, iproute2 and unshare (they enter a network namespace
# made for the test and a process's namespaces), and skip visibly without them; a user
# gets the plugin's "needs root" error instead. Skips without pkg-config, a C compiler,
# make or python3.
builddir=$(cd "${EC_TEST_BUILDDIR:-.}" && pwd)
srcdir=$(cd "${EC_TEST_SRCDIR:-.}" && pwd)
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }
for tool in "${PKG_CONFIG:-pkg-config}" "${CC:-cc}" make python3 nm; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
tmp=$(mktemp -d /tmp/ec_sdk.XXXXXX)
netns= target= pid=
cleanup() {
	# The first process of a pid namespace ignores SIGTERM, and unshare --fork ignores it.
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	[ -n "$target" ] && wait "$target" 2>/dev/null
	[ -n "$netns" ] && ip netns delete "$netns"
	rm -rf "$tmp"
}
trap cleanup EXIT
# A make of our own, not the one running the tests (its jobserver and overrides).
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make "$@"; }

# 1. Install this build tree into a staging directory.
if mk -C "$builddir" install DESTDIR="$tmp/inst" >"$tmp/install.log" 2>&1; then
	ok "make install DESTDIR=$tmp/inst"
else
	bad "make install DESTDIR=$tmp/inst"; tail -20 "$tmp/install.log"
	echo "RESULT: $pass passed, $fail failed, 0 skipped"; exit 1
fi
pcfile=$(find "$tmp/inst" -name econtext-plugin.pc | head -n 1)
bin=$(find "$tmp/inst" -path '*/bin/econtext' | head -n 1)
lib=$(dirname "$(find "$tmp/inst" -name 'libecontext.so*' | head -n 1)")
plugins=$(dirname "$(find "$tmp/inst" -name pickle.so | head -n 1)")
[ -n "$pcfile" ] && [ -x "$bin" ] && [ -d "$lib" ] && [ -d "$plugins" ] &&
	ok "installed: $(echo "$pcfile" "$bin" | sed "s|$tmp/inst||g")" ||
	bad "installed files missing: pc '$pcfile', econtext '$bin', lib '$lib', plugins '$plugins'"
for h in econtext.h econtext/plugin.h econtext/transport.h econtext/codec.h \
	econtext/errors.h econtext/protocol.h econtext/version.h; do
	[ -n "$(find "$tmp/inst" -path "*/include/$h")" ] || bad "header $h not installed"
done
# What one who never sees the source tree reads: the man pages, the docs, the example.
for f in man1/econtext.1 man5/econtext.yaml.5 man7/econtext-plugin.7 plugin-guide.md \
	packaging.md examples/plugin-nice/Makefile examples/plugin-nice/nice.c \
	examples/plugin-nsenter/Makefile examples/plugin-nsenter/nsenter.c \
	examples/plugin-nsenter/README; do
	[ -n "$(find "$tmp/inst" -path "*/$f")" ] && ok "installed */$f" || bad "*/$f not installed"
done

# 2. Each example, alone in a directory of its own, against the staged installation.
export PKG_CONFIG_LIBDIR="$(dirname "$pcfile")" PKG_CONFIG_PATH=
own=$tmp/own
build_example() { # NAME: examples/plugin-NAME built, checked and installed under $own
	src=$tmp/src-$1
	cp -R "$srcdir/examples/plugin-$1" "$src"
	chmod -R u+w "$src"
	rm -f "$src/$1.so"
	if PKG_CONFIG_SYSROOT_DIR="$tmp/inst" mk -C "$src" >"$tmp/build-$1.log" 2>&1; then
		ok "examples/plugin-$1 built out of tree: $(grep -- " -o $1.so" "$tmp/build-$1.log" | sed "s|$tmp|TMP|g")"
	else
		bad "examples/plugin-$1 does not build out of tree"; cat "$tmp/build-$1.log"
	fi
	grep -q -- '-lecontext' "$tmp/build-$1.log" && bad "examples/plugin-$1 links libecontext"
	syms=$(nm -D --defined-only "$src/$1.so" 2>/dev/null | awk '$2 ~ /[TDBR]/ {print $3}')
	[ "$syms" = "ec_plugin_$1_describe" ] && ok "$1.so exports only ec_plugin_$1_describe" ||
		bad "$1.so exports: $syms"
	# Installed under a prefix of its own (pkg-config --define-variable=prefix=).
	if mk -C "$src" install PREFIX="$own" >"$tmp/own-$1.log" 2>&1 &&
		dir=$(dirname "$(find "$own" -name "$1.so" | head -n 1)") && [ "$dir" != . ]; then
		ok "make install PREFIX=TMP/own: ${dir#"$tmp"}/$1.so"
	else
		bad "make install PREFIX=$own"; cat "$tmp/own-$1.log"
		dir=$src
	fi
}
build_example nice
nicedir=$dir
build_example nsenter
nsdir=$dir

# 3. The installed econtext loads it through the config and runs calls through it.
cat >"$tmp/econtext.yaml" <<YAML
plugin_path: [$nicedir, $nsdir]
contexts:
  background:
    transport: nice
    niceness: 7
  idle-io:
    transport: nice
    niceness: 3
    ionice_class: idle
  wrong:
    transport: nice
    ionice_class: sometimes
YAML
ec() {
	LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" EC_PLUGIN_PATH="$plugins" \
		ECONTEXT_CONFIG= "$bin" -c "$tmp/econtext.yaml" "$@"
}
base=$(nice)
want=$((base + 7 > 19 ? 19 : base + 7))
out=$(ec call background os.nice 0 2>"$tmp/err")
rc=$?
[ $rc = 0 ] && [ "$out" = "$want" ] && ok "econtext call background os.nice 0: $out (master's $base + 7)" ||
	{ bad "econtext call background os.nice 0: exit $rc, '$out', want $want"; cat "$tmp/err"; }
out=$(ec ping background 2>&1) && ok "econtext ping background: $out" ||
	bad "econtext ping background: $out"
if ionice -c 3 true 2>/dev/null; then
	out=$(ec call idle-io subprocess.check_output '["ionice"]' universal_newlines=true 2>"$tmp/err")
	[ "$out" = '"idle\n"' ] && ok "ionice_class: idle: the context's ionice says idle" ||
		{ bad "ionice_class: idle: '$out'"; cat "$tmp/err"; }
else
	echo "skip - ionice -c 3 does not work here"
fi
# The plugin's own check names the key's place; the core checks its schema's ranges.
out=$(ec call wrong os.nice 0 2>&1)
rc=$?
case "$rc $out" in
"3 "*econtext.yaml:12:*"ionice_class 'sometimes'"*) ok "the plugin's error: $out" ;;
*) bad "ionice_class: sometimes: exit $rc, $out" ;;
esac
out=$(ec -o niceness=40 call background os.nice 0 2>&1)
rc=$?
case "$rc $out" in
"3 "*"from -20 to 19"*) ok "the core checks the plugin's schema: $out" ;;
*) bad "niceness=40: exit $rc, $out" ;;
esac

# 4. The nsenter example: a context inside a network namespace made for the test, and
# one inside the namespaces of a process made for the test. Needs root (and iproute2,
# unshare); a master that is not root gets the plugin's clear refusal.
cat >"$tmp/ns.yaml" <<YAML
plugin_path: [$nsdir]
contexts:
  inns:
    transport: nsenter
    netns: ec-sdk-$$
  nons:
    transport: nsenter
    netns: ec-sdk-none-$$
  self:
    transport: nsenter
    netns: /proc/self/ns/net
  target:
    transport: nsenter
    target_pid: 1   # the test's target, once it is made
  gone:
    transport: nsenter
    target_pid: 4194304
YAML
ecns() {
	LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" EC_PLUGIN_PATH="$plugins" \
		ECONTEXT_CONFIG= "$bin" -c "$tmp/ns.yaml" "$@"
}
# refused WHAT PATTERN ARGS...: ecns ARGS fails with exit 3 and a message matching PATTERN.
refused() {
	what=$1 pattern=$2
	shift 2
	out=$(ecns "$@" 2>&1)
	rc=$?
	case "$rc $out" in
	"3 "$pattern) ok "$what: $out" ;;
	*) bad "$what: exit $rc, $out" ;;
	esac
}
# A master that is not root: the plugin refuses before spawning, naming the key.
notroot=
if [ "$(id -u)" != 0 ]; then
	notroot=env
elif command -v setpriv >/dev/null; then
	chmod 755 "$tmp"
	notroot="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
if [ -n "$notroot" ]; then
	out=$(HOME=$tmp LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
		EC_PLUGIN_PATH="$plugins" ECONTEXT_CONFIG= $notroot "$bin" -c "$tmp/ns.yaml" \
		call self os.getpid 2>&1)
	rc=$?
	case "$rc $out" in
	[1-9]*ns.yaml:11:*"needs root"*) ok "not root: $out" ;;
	*) bad "nsenter as a user: exit $rc, $out" ;;
	esac
else
	echo "skip - no setpriv: the not-root error is not tried"
fi
if [ "$(id -u)" != 0 ]; then
	echo "skip - not root: no network namespace made, no call through nsenter"
elif ! command -v ip >/dev/null || ! command -v unshare >/dev/null; then
	echo "skip - no ip (iproute2) or unshare: no call through nsenter"
elif ! ip netns add "ec-sdk-$$" 2>"$tmp/err"; then
	echo "skip - ip netns add ec-sdk-$$ fails here: $(cat "$tmp/err")"
else
	netns=ec-sdk-$$
	out=$(ecns call inns socket.if_nameindex 2>"$tmp/err")
	case "$out" in
	'[[1,"lo"]]' | '[[1, "lo"]]') ok "netns: $netns: the context's interfaces: $out" ;;
	*) bad "netns: $netns: socket.if_nameindex: '$out'"; cat "$tmp/err" ;;
	esac
	want="\"net:[$(stat -L -c %i "/run/netns/$netns")]\""
	out=$(ecns call inns os.readlink /proc/self/ns/net 2>"$tmp/err")
	[ "$out" = "$want" ] && ok "netns: $netns: the context's /proc/self/ns/net is $out" ||
		{ bad "netns: $netns: /proc/self/ns/net '$out', want $want"; cat "$tmp/err"; }
	refused "a bad netns" "*ns.yaml:8:*no network namespace 'ec-sdk-none-$$'*" call nons os.getpid
	# target_pid: a process in namespaces of its own (uts, net, pid), ready once it says
	# so; unshare forks it (the first of the pid namespace) and kills it when killed.
	mkfifo "$tmp/ready"
	unshare --uts --net --pid --fork --kill-child \
		sh -c "hostname ec-sdk-$$ && echo ready >'$tmp/ready' && exec sleep 3600" 2>"$tmp/unshare.err" &
	target=$!
	read -r line <"$tmp/ready"
	read -r pid _ <"/proc/$target/task/$target/children"
	sed -i "s/target_pid: 1 .*/target_pid: $pid/" "$tmp/ns.yaml"
	out=$(ecns call target socket.gethostname 2>"$tmp/err")
	[ "$out" = "\"ec-sdk-$$\"" ] && ok "target_pid: the context's hostname is the target's: $out" ||
		{ bad "target_pid $pid: socket.gethostname: '$out'"; cat "$tmp/err"; }
	for ns in net pid; do
		want="\"$(readlink "/proc/$pid/ns/$ns")\""
		out=$(ecns call target os.readlink "/proc/self/ns/$ns" 2>"$tmp/err")
		[ "$out" = "$want" ] && ok "target_pid: the context is in the target's $ns namespace: $out" ||
			{ bad "target_pid $pid: /proc/self/ns/$ns '$out', want $want"; cat "$tmp/err"; }
	done
	out=$(ecns -o namespaces=uts call target os.readlink /proc/self/ns/net 2>"$tmp/err")
	[ "$out" = "\"$(readlink /proc/self/ns/net)\"" ] &&
		ok "namespaces: [uts]: the context stays in our network namespace" ||
		{ bad "namespaces=uts: /proc/self/ns/net '$out'"; cat "$tmp/err"; }
	refused "an unknown namespace" "*namespace 'disk' is none of*" \
		-o namespaces=disk call target os.getpid
	refused "a bad target_pid" "*ns.yaml:17:*target_pid 4194304: no such process*" \
		call gone os.getpid
fi
echo "RESULT: $pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
