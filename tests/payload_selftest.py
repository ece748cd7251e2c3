#!/usr/bin/env python3
"""Standalone check of the Python side of the econtext protocol (docs/protocol.md).

Plays the master: builds the boot stream exactly as the C master does (10 digits +
the build-time deflate of the core + the config line deflated by a fresh raw
compressor with Z_FINISH), runs `<python> -c <first stage>` on a socketpair, and
talks frames to it. Pickles with protocol 2 on the master side (a test harness only).

    payload_selftest.py [--srcdir payload] [--bench N] [python ...]

With no python given, runs against every /root/.pyenv/versions/*/bin/python (or
$EC_TEST_PYTHONS, space separated). Exit status 0 when every interpreter passed,
77 when none was found.
"""
import argparse
import binascii
import glob
import hashlib
import hmac
import importlib.util
import io
import os
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
# How long to wait for something that comes (an exit, a LOG): it returns as it comes,
# so only a context that never does it waits this long.
EVENT_WAIT = 30.0

HELLO, CALL, LOG, SHUTDOWN = 1, 2, 3, 4
REPLIES, CALLS = 9, 10
CHANNEL_OPEN, CONTENT = 8, 5
HDR = struct.Struct(">IIIII")
PART = struct.Struct(">II")     # a call in CALLS, a reply in REPLIES: handle, length


def parts(payload):
    """The (handle, bytes) of a CALLS or REPLIES payload."""
    out, pos = [], 0
    while pos < len(payload):
        h, n = PART.unpack_from(payload, pos)
        pos += 8 + n
        out.append((h, payload[pos - n:pos]))
    assert pos == len(payload), "entry cut short"
    return out


def load_mkpayload():
    spec = importlib.util.spec_from_file_location(
        "mkpayload", os.path.join(TOP, "build-aux", "mkpayload.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class CallError(Exception):
    pass


class Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("econtext", "CallError"):
            return CallError
        if (module, name) in (("__builtin__", "set"), ("builtins", "set")):
            return set
        if (module, name) in (("__builtin__", "frozenset"), ("builtins", "frozenset")):
            return frozenset
        raise pickle.UnpicklingError("refused %s.%s" % (module, name))


def loads(data):
    return Unpickler(io.BytesIO(data), encoding="bytes").load()


BOOT_MARKER = b"ECBOOT0\n"


class Timeout(Exception):
    pass


class Context(object):
    def __init__(self, python, payload, log_level=20, nonblock=False, trickle=False,
                 deadline=20.0, env=None, u_literals=False, tls_words=None):
        self.python = python
        self.key = os.urandom(32)
        self.oseq = 0
        self.iseq = 0
        self.logs = []
        self.next_handle = 1000
        self.chains_in, self.chains_out = {}, {}
        self.buf = b""
        self.argv0 = "econtext:%s@%s:%d" % ("tester", socket.gethostname(), os.getpid())
        first_stage, deflate, exec_src, loader = payload
        if u_literals:
            # the form docs/protocol.md shows
            line = ("_ec_main({'name': u'local', 'key': u'%s', 'log_level': %d, "
                    "'max_message': %d, 'codec': u'pickle', "
                    "'master_pid': %d, 'context_id': 1})\0A=\"%s\"\n"
                    % (binascii.hexlify(self.key).decode(), log_level, 64 << 20,
                       os.getpid(), self.argv0))
        else:
            # the form core/payload.c writes: a leading newline, text as
            # b'...'.decode('utf-8') with everything but [A-Za-z0-9@:._-/+ ] escaped
            def pystr(s):
                return "b'%s'.decode('utf-8')" % "".join(
                    ch if ch.isalnum() and ord(ch) < 128 or ch in "@:._-/+ "
                    else "".join("\\x%02x" % b for b in ch.encode("utf-8")) for ch in s)
            layers = ", 'layers': {'tls': b'%s'}" % tls_words if tls_words else ""
            line = ("\n_ec_main({'name': %s, 'key': '%s', 'log_level': %d, "
                    "'max_message': %d, 'context_id': 1, 'master_pid': %d, 'codec': %s"
                    "%s})\0A=\"%s\"\n"
                    % (pystr("local"), binascii.hexlify(self.key).decode(), log_level,
                       64 << 20, os.getpid(), pystr("pickle"), layers, self.argv0))
        # C: the loader and that line; X: the exec stage; B: 'S' and the core's source,
        # compressed at build time, then an empty final block.
        line = loader + line + exec_src + "\0S"
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        tail = c.compress(line.encode("ascii")) + c.flush(zlib.Z_SYNC_FLUSH)
        body = tail + deflate + b"\x03\x00"
        stream = b"%010d" % len(body) + body
        self.sock, child = socket.socketpair()
        if nonblock:
            child.setblocking(False)
        self.t0 = time.time()
        self.proc = subprocess.Popen([python, "-c", first_stage], stdin=child,
                                     stdout=child, stderr=child, close_fds=True, env=env)
        child.close()
        # docs/protocol.md 1: the first stage writes ECBOOT0 before it reads. The
        # trickled boot waits for it, as the sudo transport does; the other writes
        # the stream at once, as the local transport does.
        self.pre_boot = None
        if trickle:
            self.pre_boot = self._read_until(BOOT_MARKER, deadline)
            for i in range(0, len(stream), 333):
                self.sock.sendall(stream[i:i + 333])
                time.sleep(0.002)
        else:
            self.sock.sendall(stream)
        if tls_words:
            return      # connect-back: the rest comes on the TLS connection
        self.boot_output = self._read_until(b"ECREADY\n", deadline)
        if self.pre_boot is None:
            if not self.boot_output.startswith(BOOT_MARKER):
                raise AssertionError("boot output does not start with %r: %r"
                                     % (BOOT_MARKER, self.boot_output[:200]))
            self.pre_boot, self.boot_output = b"", self.boot_output[len(BOOT_MARKER):]
        self.t_ready = time.time()
        h = self.read_frame(deadline)
        if h[2] != HELLO:
            raise AssertionError("first frame is handle %d, not HELLO" % h[2])
        self.hello = loads(h[5])
        self.t_hello = time.time()

    # -- raw I/O ---------------------------------------------------------------
    def _fill(self, deadline):
        end = time.time() + deadline
        while True:
            left = end - time.time()
            if left <= 0:
                raise Timeout("no data within %.1fs (have %r)" % (deadline, self.buf[-200:]))
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                data = self.sock.recv(1 << 20)
                if not data:
                    raise EOFError("context closed the stream (have %r)" % self.buf[-300:])
                self.buf += data
                return

    def _read_until(self, marker, deadline):
        end = time.time() + deadline
        while marker not in self.buf:
            self._fill(max(0.01, end - time.time()))
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i - len(marker)], self.buf[i:]
        return out

    def _read_exact(self, n, deadline):
        end = time.time() + deadline
        while len(self.buf) < n:
            self._fill(max(0.01, end - time.time()))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def mac(self, direction, seq, hdr, payload):
        return hmac.new(self.key, direction + struct.pack(">Q", seq) + hdr + payload,
                        hashlib.sha256).digest()

    def read_frame(self, deadline=20.0):
        hdr = self._read_exact(20, deadline)
        dst, src, handle, reply_to, length = HDR.unpack(hdr)
        payload = self._read_exact(length, deadline)
        mac = self._read_exact(32, deadline)
        if reply_to == CONTENT:     # MAC over the handle's chain (docs/protocol.md 2)
            chain = self.chains_in.setdefault(handle, hashlib.sha256())
            chain.update(payload)
            want = self.mac(b"C", self.iseq, hdr, chain.digest())
        else:
            want = self.mac(b"C", self.iseq, hdr, payload)
        if not hmac.compare_digest(mac, want):
            raise AssertionError("bad MAC from context on frame %d" % self.iseq)
        self.iseq += 1
        if dst != 0 or src != 1:
            raise AssertionError("frame dst/src %d/%d" % (dst, src))
        return dst, src, handle, reply_to, length, payload

    def send_content(self, handle, payload, digest=None):
        """A content frame: its MAC over the chain of what went on handle (or over
        digest: a chain that lies)."""
        chain = self.chains_out.setdefault(handle, hashlib.sha256())
        chain.update(payload)
        hdr = HDR.pack(1, 0, handle, CONTENT, len(payload))
        mac = self.mac(b"M", self.oseq, hdr, digest or chain.digest())
        self.oseq += 1
        self.sock.sendall(hdr + payload + mac)

    def send_frame(self, handle, payload, reply_to=0, corrupt=False):
        hdr = HDR.pack(1, 0, handle, reply_to, len(payload))
        mac = self.mac(b"M", self.oseq, hdr, payload)
        self.oseq += 1
        if corrupt:
            mac = bytes([mac[0] ^ 1]) + mac[1:]
        self.sock.sendall(hdr + payload + mac)

    # -- messages --------------------------------------------------------------
    def call_async(self, module, qualname, args=(), kwargs=None):
        handle = self.next_handle
        self.next_handle += 1
        self.send_frame(CALL, pickle.dumps((module, qualname, tuple(args), kwargs or {}), 2),
                        reply_to=handle)
        return handle

    def wait_reply(self, handle, deadline=20.0):
        while True:
            f = self.read_frame(deadline)
            if f[2] == LOG:
                self.logs.append(loads(f[5]))
            elif f[2] == handle:
                return loads(f[5])
            else:
                raise AssertionError("unexpected frame for handle %d" % f[2])

    def call(self, module, qualname, *args, **kwargs):
        return self.wait_reply(self.call_async(module, qualname, args, kwargs))

    def wait_logs(self, pred, deadline=EVENT_WAIT):
        end = time.time() + deadline
        if any(pred(l) for l in self.logs):
            return
        while True:
            f = self.read_frame(max(0.01, end - time.time()))
            if f[2] != LOG:
                raise AssertionError("unexpected frame for handle %d" % f[2])
            self.logs.append(loads(f[5]))
            if pred(self.logs[-1]):
                return

    def wait_exit(self, deadline=EVENT_WAIT):
        end = time.time() + deadline
        while time.time() < end:
            rc = self.proc.poll()
            if rc is not None:
                return rc
            time.sleep(0.005)
        raise Timeout("context pid %d still running after %.1fs" % (self.proc.pid, deadline))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def zombies_of(pid):
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] == "Z":
            out.append(stat)
    return out


def tls_server(tmp):
    """A TLS listener on loopback with a fresh self-signed P-256 certificate (the
    openssl command), and that certificate's SHA-256; None without openssl."""
    import shutil
    import ssl
    if not shutil.which("openssl"):
        return None
    key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
    subprocess.check_call(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                           "-days", "1", "-subj", "/CN=selftest"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    with open(crt) as f:
        fp = hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()
    lis = socket.socket()
    lis.bind(("127.0.0.1", 0))
    lis.listen(4)
    lis.settimeout(EVENT_WAIT)
    return ctx, lis, fp


def check_connect_back(python, payload, step):
    """The context's side of connect-back (docs/tls.md, the lazy switch): ECREADY and the
    HELLO over the launcher's stream at once; then the pinned certificate or nothing
    (a wrong one said in a LOG frame on the launcher's stream, exit status 1); the token
    and U first on the connection, D back, then frames on the connection."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        srv = tls_server(tmp)
        if srv is None:
            print("   .. connect-back: SKIP (no openssl command)")
            return
        ctx, lis, fp = srv
        port = lis.getsockname()[1]
        token = binascii.hexlify(os.urandom(32)).decode()

        def hello(c):
            c._read_until(b"ECREADY\n", EVENT_WAIT)
            h = c.read_frame(EVENT_WAIT)
            check(h[2] == HELLO, "first frame is handle %d, not HELLO" % h[2])
            c.hello = loads(h[5])
            return 8 + 20 + h[4] + 32

        step("connect-back: a certificate other than the pinned one is refused")
        wrong = hashlib.sha256(b"another certificate").hexdigest()
        c = Context(python, payload, tls_words="127.0.0.1 %d %s %s" % (port, wrong, token))
        try:
            hello(c)
            conn, _ = lis.accept()
            conn.settimeout(EVENT_WAIT)
            got = b""
            try:
                tconn = ctx.wrap_socket(conn, server_side=True)
                got = tconn.recv(100)
            except (OSError, ssl_error()):
                pass
            check(got == b"", "the context sent %r to a certificate it did not pin" % got)
            c.wait_logs(lambda l: "is not the pinned one" in l[2] and l[1] == 40)
            check(c.wait_exit() == 1, "exit status after a wrong certificate")
        finally:
            c.kill()
        step("connect-back: ECREADY and HELLO over the launcher, then the pinned "
             "certificate, the token and U; D back; frames on the connection")
        c = Context(python, payload, tls_words="127.0.0.1 %d %s %s" % (port, fp, token))
        try:
            up = hello(c)
            conn, _ = lis.accept()
            conn.settimeout(EVENT_WAIT)
            tconn = ctx.wrap_socket(conn, server_side=True)
            data = b""
            while len(data) < 64 + 16:
                more = tconn.recv(64 + 16 - len(data))
                check(more, "the TLS connection ended after %r" % data)
                data += more
            check(data[:64] == token.encode(), "the token first: %r" % data[:64])
            check(int(data[64:80], 16) == up, "U %r, the launcher carried %d bytes"
                  % (data[64:80], up))
            tconn.sendall(b"%016x" % 0)     # nothing sent on the launcher after the payload
            launcher = c.sock       # kept open: its end would end the context
            c.sock = tconn
            c.buf = b""

            def fill(deadline):
                tconn.settimeout(deadline)
                more = tconn.recv(1 << 20)
                if not more:
                    raise EOFError("the TLS connection ended")
                c.buf += more
            c._fill = fill
            check(c.call("os", "getpid") == c.hello["pid"], "a call over the connection")
            st = c.call("econtext", "connect_back_state")
            check(st == "switched", "connect_back_state %r" % st)
            tconn.close()
            check(c.wait_exit() == 0, "exit status when the master closed")
            launcher.close()
        finally:
            c.kill()
        lis.close()


def tagged_channel(handle):
    """econtext.Tagged('channel', handle), pickled as the master does."""
    import types
    mod = sys.modules.get("econtext") or types.ModuleType("econtext")
    sys.modules["econtext"] = mod

    class Tagged(tuple):
        def __reduce__(self):
            return (Tagged, tuple(self))    # Tagged(tag, value)
    Tagged.__module__ = "econtext"
    Tagged.__qualname__ = Tagged.__name__ = "Tagged"
    mod.Tagged = Tagged
    return Tagged(("channel", handle))


def check_content(python, payload, step):
    """Content frames (docs/protocol.md 2) both ways, through econtext._put and _get."""
    import tempfile
    tmp = tempfile.mkdtemp(prefix="ec-selftest-")
    data = os.urandom(300000) + b"x" * 1000 + os.urandom(70000)
    try:
        steps = (("good", "_put of content, its chain the SHA-256: written"),
                 ("bad", "_put of content: a chain that does not follow, exit 1"),
                 ("values", "_put of bytes values, not content: refused, nothing written"))
        for mode, what in steps:
            step(what)
            ctx = Context(python, payload)
            try:
                path = os.path.join(tmp, "put-" + mode)
                ctx.send_frame(CHANNEL_OPEN, pickle.dumps((1000, 4 << 20), 2))
                ctx.next_handle = 1001
                h = ctx.call_async("econtext", "_put", (tagged_channel(1000), path, 0o640,
                                                        1e9, len(data), None, None))
                if mode == "values":
                    ctx.send_frame(1000, pickle.dumps(data, 2), 1)
                elif mode == "bad":     # the second's MAC over its own bytes: restarted
                    ctx.send_content(1000, data[:300000])
                    ctx.send_content(1000, data[300000:],
                                     hashlib.sha256(data[300000:]).digest())
                    check(ctx.wait_exit() == 1, "exit status")
                    check(not os.path.exists(path), "the target was written")
                    continue
                else:
                    for lo, hi in ((0, 300000), (300000, 301000), (301000, len(data))):
                        ctx.send_content(1000, data[lo:hi])
                ctx.send_frame(1000, pickle.dumps(hashlib.sha256(data).hexdigest(), 2), 1)
                ctx.send_frame(1000, pickle.dumps(None, 2), 2)
                while True:
                    f = ctx.read_frame()
                    if f[2] == h:
                        break
                    check(f[2] in (LOG, 1000), "a frame for handle %d" % f[2])
                r = loads(f[5])
                if mode == "values":
                    check("ValueError" in repr(r) and "the master read" in repr(r),
                          "_put answered %r" % (r,))
                    check(not os.path.exists(path), "the target was written")
                    continue
                check(r == len(data), "_put answered %r" % (r,))
                with open(path, "rb") as fh:
                    check(fh.read() == data, "what was written")
            finally:
                ctx.kill()
        step("_get sends content: each frame's chain verifies, its digest the SHA-256")
        ctx = Context(python, payload)
        try:
            path = os.path.join(tmp, "put-good")
            ctx.send_frame(CHANNEL_OPEN, pickle.dumps((1000, 4 << 20), 2))
            ctx.next_handle = 1001
            h = ctx.call_async("econtext", "_get", (tagged_channel(1000), path))
            got = b""
            while True:
                f = ctx.read_frame()    # checks each content frame's MAC on its chain
                if f[2] == h:
                    break
                if f[2] == 1000 and f[3] == CONTENT:
                    got += f[5]
            r = loads(f[5])
            digest = r[1].decode() if isinstance(r[1], bytes) else r[1]    # 2.7: str
            check(got == data, "the content: %d bytes" % len(got))
            check(r[0] == len(data) and digest == hashlib.sha256(data).hexdigest(),
                  "_get answered %r" % (r[:2],))
        finally:
            ctx.kill()
    finally:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


def ssl_error():
    import ssl
    return ssl.SSLError


def run_checks(python, payload, verbose):
    steps = []

    def step(name):
        steps.append(name)
        if verbose:
            print("   .. %s" % name, flush=True)

    step("boot, trickled and non-blocking stdin")
    env = dict(os.environ, PYTHONUNBUFFERED="1", EC_SELFTEST="x")
    ctx = Context(python, payload, nonblock=True, trickle=True, env=env, u_literals=True)
    try:
        check(ctx.pre_boot == b"", "output before the boot marker %r" % ctx.pre_boot)
        check(ctx.boot_output == b"", "boot output %r" % ctx.boot_output)
        h = ctx.hello
        check(set(h) == {"version", "pid", "python", "user", "host"}, "HELLO keys %r" % h)
        check(h["pid"] == ctx.proc.pid, "HELLO pid %r, boot pid %d" % (h["pid"], ctx.proc.pid))
        check(h["python"] == python, "HELLO python %r" % h["python"])
        py2 = h["version"].startswith("2.")
        bi = "__builtin__" if py2 else "builtins"

        def n(x):
            # Python 2 native str arrives as bytes (protocol.md 4): decode for checks
            if py2 and isinstance(x, bytes):
                return x.decode("utf-8")
            if isinstance(x, dict):
                return dict((n(k), n(v)) for k, v in x.items())
            if isinstance(x, list):
                return [n(v) for v in x]
            return x

        step("argv[0] in ps")
        with open("/proc/%d/cmdline" % ctx.proc.pid, "rb") as f:
            cmdline = f.read().split(b"\0")
        check(cmdline[0] == ctx.argv0.encode(), "cmdline %r" % cmdline)
        ps = subprocess.check_output(["ps", "-o", "args=", "-p", str(ctx.proc.pid)]).decode()
        check(ps.startswith("econtext:"), "ps shows %r" % ps)

        step("CALL platform.python_version, os.getpid")
        v = n(ctx.call("platform", "python_version"))
        check(v == h["version"], "python_version %r vs HELLO %r" % (v, h["version"]))
        check(ctx.call("os", "getpid") == h["pid"], "getpid")

        step("first stage reaped, environment and fds clean")
        check(not zombies_of(ctx.proc.pid), "zombie children %r" % zombies_of(ctx.proc.pid))
        check(ctx.call("os", "getenv", "EC_BOOT") is None, "EC_BOOT leaked into os.environ")
        check(n(ctx.call("os", "getenv", "EC_SELFTEST")) == "x", "environment lost")
        check(n(ctx.call("os", "getenv", "PYTHONUNBUFFERED")) == "1", "PYTHONUNBUFFERED lost")
        check(n(ctx.call("os", "readlink", "/proc/self/fd/0")) == "/dev/null", "fd 0")
        check(ctx.call("sys", "path.__contains__", "") is False, "'' in sys.path")
        check(n(ctx.call("sys", "executable.__str__")) == python, "sys.executable")
        rc = ctx.call("os", "system", "test -e /proc/self/fd/100 -o -e /proc/self/fd/101 "
                      "&& echo fd-leak || echo no-fd-leak; echo \"[$EC_BOOT] [$PYTHONUNBUFFERED]\"")
        check(rc == 0, "os.system rc %r" % rc)
        ctx.wait_logs(lambda l: l == ("stdout", 20, "[] [1]"))
        check(("stdout", 20, "no-fd-leak") in ctx.logs, "fds 100/101 leak: %r" % ctx.logs)
        # nothing else either (2.7: the first stage's end of the source pipe)
        # (ls's own: 0, 1, 2, and 3 for the directory it lists)
        check(ctx.call("os", "system", "echo fds:$(ls /proc/self/fd)") == 0, "ls fds rc")
        ctx.wait_logs(lambda l: l[2].startswith("fds:"))
        fds = [l[2][4:].split() for l in ctx.logs if l[2].startswith("fds:")]
        check(fds == [["0", "1", "2", "3"]], "fds inherited: %r" % fds)

        step("stdout/stderr forwarding (os.system echo, print, sys.stderr)")
        check(ctx.call("os", "system", "echo hi") == 0, "echo hi rc")
        ctx.wait_logs(lambda l: l == ("stdout", 20, "hi"))
        ctx.call(bi, "print", "hello-print")
        ctx.wait_logs(lambda l: l == ("stdout", 20, "hello-print"))
        ctx.call("sys", "stderr.write", "to-stderr\n")
        ctx.wait_logs(lambda l: l == ("stderr", 30, "to-stderr"))

        step("logging forwarded (lazy handler install), level honoured")
        if not py2:
            # asking for the spec first must not defeat the lazy handler install
            r = ctx.call("importlib.util", "find_spec", "logging")
            check(isinstance(r, CallError), "find_spec result %r" % (r,))
        ctx.call("logging", "debug", "not-sent")
        ctx.call("logging", "warning", "hello %s", "world")
        ctx.wait_logs(lambda l: l == ("root", 30, "hello world"))
        ctx.call("logging", "log", 20, "info-msg")
        ctx.wait_logs(lambda l: l == ("root", 20, "info-msg"))
        ctx.call("logging", "getLogger.__call__", "a.b")  # -> SerializationError below
        check(not any(l[2] == "not-sent" for l in ctx.logs), "DEBUG record forwarded")

        step("errors: ValueError, unserializable result, refused global")
        r = ctx.call(bi, "int", "x")
        check(isinstance(r, CallError), "int('x') gave %r" % (r,))
        t, m, tb = r.args
        check(t == ("exceptions.ValueError" if py2 else "builtins.ValueError"), "type %r" % t)
        check("invalid literal" in m and "ValueError" in tb and "Traceback" in tb,
              "message %r traceback %r" % (m, tb))
        r = ctx.call("logging", "getLogger", "a.b")
        check(isinstance(r, CallError) and r.args[0] == "econtext.SerializationError"
              and "Logger" in r.args[1], "getLogger gave %r" % (r,))
        r = ctx.call(bi, "type", 1)
        check(isinstance(r, CallError) and r.args[0] == "econtext.SerializationError",
              "builtin type result gave %r" % (r,))
        handle = ctx.next_handle
        ctx.next_handle += 1
        ctx.send_frame(CALL, pickle.dumps(("os", "getpid", (os.system,), {}), 2),
                       reply_to=handle)
        r = ctx.wait_reply(handle)
        check(isinstance(r, CallError) and "refused" in r.args[1], "refused global %r" % (r,))
        r = ctx.call("no_such_module_x", "f")
        check(isinstance(r, CallError) and "ImportError" in r.args[0] or
              "ModuleNotFoundError" in r.args[0], "missing module %r" % (r,))

        step("dotted fallback, kwargs, sets, text, bytes")
        check(n(ctx.call("os.path", "join", "a", "b")) == "a/b", "os.path.join")
        check(ctx.call(bi + ".dict", "fromkeys", ["k"]) == {"k": None}, "dict.fromkeys")
        check(n(ctx.call(bi, "dict", a=1, b=[1, 2.5, None, True])) ==
              {"a": 1, "b": [1, 2.5, None, True]}, "kwargs")
        check(ctx.call(bi, "sorted", {3, 1, 2}) == [1, 2, 3], "set argument")
        check(ctx.call(bi, "len", frozenset([1, 2])) == 2, "frozenset argument")
        check(ctx.call("copy", "deepcopy", {42}) == {42}, "set result")
        r = ctx.call(bi, "frozenset", [1, "a"])
        check(r == frozenset([1, "a"]) and type(r) is frozenset, "frozenset result")
        check(ctx.call("copy", "deepcopy", [{1}, (frozenset(),)]) == [{1}, (frozenset(),)],
              "nested sets")
        check(ctx.call(bi, "len", u"h\u00e9llo\u20ac") == 6, "text argument")
        check(ctx.call(bi, "len", b"\xff\x00ab") == 4, "bytes argument")
        check(ctx.call("binascii", "unhexlify", "00ff41") == b"\x00\xffA", "bytes result")
        check(ctx.call(bi, "pow", 2, 100) == 2 ** 100, "big int")
        check(ctx.call(bi, "tuple", [1, (2, 3)]) == (1, (2, 3)), "tuple")

        step("CALLS: calls in one frame; the replies held come as REPLIES")
        hs = list(range(ctx.next_handle, ctx.next_handle + 20))
        ctx.next_handle += 20
        ctx.send_frame(CALLS, b"".join(
            PART.pack(h, len(c)) + c
            for h, c in ((h, pickle.dumps(("operator", "neg", (h,), {}), 2)) for h in hs)))
        got, batches = {}, 0
        while len(got) < len(hs):
            f = ctx.read_frame()
            if f[2] == REPLIES:
                batches += 1
                got.update((h, loads(r)) for h, r in parts(f[5]))
            elif f[2] in hs:
                got[f[2]] = loads(f[5])
            elif f[2] == LOG:
                ctx.logs.append(loads(f[5]))
        check(got == dict((h, -h) for h in hs), "replies %r" % (got,))
        check(batches > 0, "no REPLIES frame for 20 calls queued at once")

        step("big frames both ways")
        big = os.urandom(3 << 20)
        check(ctx.call(bi, "len", big) == len(big), "3 MiB argument")
        r = ctx.call("os", "urandom", 5 << 20)
        check(isinstance(r, bytes) and len(r) == 5 << 20, "5 MiB result")

        step("SHUTDOWN exits promptly")
        t = time.time()
        ctx.send_frame(SHUTDOWN, pickle.dumps(None, 2))
        rc = ctx.wait_exit()
        check(rc == 0, "exit status %r after SHUTDOWN" % rc)
        if verbose:
            print("      exited %.1f ms after SHUTDOWN" % ((time.time() - t) * 1000))
    finally:
        ctx.kill()

    step("EOF while a call sleeps: exits")
    ctx = Context(python, payload)
    try:
        ctx.call_async("time", "sleep", (100,))
        time.sleep(0.1)
        t = time.time()
        ctx.sock.close()
        rc = ctx.wait_exit()
        if verbose:
            print("      exited %.1f ms after EOF, status %r" % ((time.time() - t) * 1000, rc))
    finally:
        ctx.kill()

    step("SHUTDOWN while a call sleeps: exits")
    ctx = Context(python, payload)
    try:
        ctx.call_async("time", "sleep", (100,))
        ctx.send_frame(SHUTDOWN, pickle.dumps(None, 2))
        check(ctx.wait_exit() == 0, "exit status")
    finally:
        ctx.kill()

    step("bad MAC: context exits with status 1")
    ctx = Context(python, payload)
    try:
        ctx.send_frame(CALL, pickle.dumps(("os", "getpid", (), {}), 2), reply_to=1000,
                       corrupt=True)
        check(ctx.wait_exit() == 1, "exit status")
        try:
            while True:
                f = ctx.read_frame(1.0)
                if f[2] == LOG:
                    ctx.logs.append(loads(f[5]))
        except (EOFError, Timeout):
            pass
        check(any("bad MAC" in l[2] for l in ctx.logs), "no LOG about the bad MAC")
    finally:
        ctx.kill()

    check_content(python, payload, step)

    step("CALLS cut short: context exits with status 1")
    ctx = Context(python, payload)
    try:
        c = pickle.dumps(("os", "getpid", (), {}), 2)
        ctx.send_frame(CALLS, PART.pack(1000, len(c)) + c + PART.pack(1001, 99) + c)
        check(ctx.wait_exit() == 1, "exit status")
    finally:
        ctx.kill()

    step("unknown handle: context exits with status 1")
    ctx = Context(python, payload)
    try:
        ctx.send_frame(77, pickle.dumps(None, 2))
        check(ctx.wait_exit() == 1, "exit status")
    finally:
        ctx.kill()

    check_connect_back(python, payload, step)

    step("truncated boot stream: first stage exits 1")
    first_stage, deflate = payload[:2]
    s1, s2 = socket.socketpair()
    p = subprocess.Popen([python, "-c", first_stage], stdin=s2, stdout=s2, stderr=s2,
                         close_fds=True)
    s2.close()
    s1.sendall(b"%010d" % len(deflate) + deflate[:100])
    s1.shutdown(socket.SHUT_WR)
    try:
        rc = p.wait(EVENT_WAIT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        s1.close()
    check(rc == 1, "first stage exit status %r on EOF" % rc)
    return steps


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def bench(python, payload, n):
    passes = []
    for _ in range(n):
        t = time.time()
        subprocess.call([python, "-c", "pass"])
        passes.append(time.time() - t)
    hellos, firsts = [], []
    for _ in range(n):
        ctx = Context(python, payload)
        try:
            ctx.call("os", "getpid")
            firsts.append(time.time() - ctx.t0)
            hellos.append(ctx.t_hello - ctx.t0)
            ctx.send_frame(SHUTDOWN, pickle.dumps(None, 2))
            ctx.wait_exit()
        finally:
            ctx.kill()
    return median(passes), median(hellos), median(firsts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--srcdir", default=os.path.join(TOP, "payload"))
    ap.add_argument("--bench", type=int, default=0, metavar="N",
                    help="also time N boots per interpreter (medians)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("pythons", nargs="*")
    args = ap.parse_args()
    pythons = args.pythons or os.environ.get("EC_TEST_PYTHONS", "").split() or \
        sorted(glob.glob("/root/.pyenv/versions/*/bin/python"),
               key=lambda p: [int(x) for x in p.split("/")[-3].split(".")])
    if not pythons:
        print("SKIP: no interpreters found")
        return 77
    mk = load_mkpayload()
    first_stage = mk.first_stage_arg(args.srcdir)
    # The codec's context side follows the core (ec_codec_ops.remote_source): pickle's;
    # then the tls layer's (ec_transport_ops.remote_source), for the connect-back checks.
    source = mk.core_source(args.srcdir) + "\n" + mk.remote_source(
        os.path.join(args.srcdir, "..", "plugins", "pickle", "pickle_remote.py")) + "\n" + \
        mk.remote_source(os.path.join(args.srcdir, "..", "plugins", "tls", "tls_remote.py"))
    deflate = mk.compress_core(source)
    payload = (first_stage, deflate, mk.exec_stage(args.srcdir), mk.loader(args.srcdir))
    print("first stage: %d bytes; core: %d bytes source, %d bytes deflated"
          % (len(first_stage), len(source), len(deflate)))
    failed = []
    for python in pythons:
        t = time.time()
        try:
            steps = run_checks(python, payload, args.verbose)
        except Exception:
            failed.append(python)
            print("FAIL %s" % python)
            traceback.print_exc(file=sys.stdout)
            continue
        line = "PASS %s (%d checks, %.1fs)" % (python, len(steps), time.time() - t)
        if args.bench:
            p, h, f = bench(python, payload, args.bench)
            line += ("; -c pass %.1f ms, boot to HELLO %.1f ms (%.2fx), to first result "
                     "%.1f ms (%.2fx)" % (p * 1e3, h * 1e3, h / p, f * 1e3, f / p))
        print(line, flush=True)
    print("%d passed, %d failed" % (len(pythons) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
