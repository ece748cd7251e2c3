# tls_remote.py: the tls layer's context side (ec_transport_ops.remote_source, docs/tls.md).
# The master appends it to the remote core (payload/econtext_core.py) for a context whose
# stack has the tls layer, compiled with it, in the core's globals (and so in the
# core's cached code object); the core's _ec_main calls _layer_starts["tls"] with the
# layer's boot words, ADDRESS PORT FINGERPRINT TOKEN, before it sets up stdio. Runs
# unchanged on 2.7 and 3.6 to 3.13.
_RELAY_MAX = 1 << 18    # the most the relay reads at once, each way


def _tls_connect_back(words):
    """Connect to the master's listener, pin its certificate, send this context's token;
    then move fds 100 and 101 to one end of a socketpair whose other end a relay thread
    joins to the TLS connection. The launcher's stream stays open only to tie lives:
    its end, or the connection's, ends the context.

    The TCP connect and the TLS set-up (the _ssl import) are done here; the handshake,
    the pin and the token on the relay thread, while this thread goes on with the boot
    (stdio, hooks, the HELLO, written into the socketpair meanwhile): the handshake's
    C code runs without the GIL, so its round trip and crypto overlap that work. (The
    ClientHello sent from here instead made the boot's thread share the GIL with the
    relay thread's handshake steps: no faster, docs/benchmarks.md.)"""
    import _socket
    host, port, fingerprint, token = words.split()
    where = "%s port %s" % (host, port)
    # The relay thread says a failure here: on the launcher's stream as boot output,
    # before ECREADY, whatever _setup_stdio does to fd 2 meanwhile.
    err = posix.dup(2)
    _cloexec(err)
    try:
        # A subclass: _ssl keeps a weak reference to the socket, which _socket's lacks.
        sock = type("_TLSSocket", (_socket.socket,), {})
        raw = sock(_socket.AF_INET6 if ":" in host else _socket.AF_INET, _socket.SOCK_STREAM)
        # The SYN's round trip overlaps the TLS set-up: connected only below.
        raw.setblocking(False)
        rc = raw.connect_ex((host, int(port)))
        # No Nagle: the token and HELLO would wait for the delayed ACK of the
        # handshake's last flight (40 ms here).
        raw.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        handshake = (_tls_py3 if PY3 else _tls_py2)()
        if rc not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            raise _socket.error(rc, posix.strerror(rc))
    except Exception:
        _tls_failed(err, where)
    # Both ends of the launcher's stream stay open (over ssh, closing its stdout would
    # end the channel); only its input is read, for its end.
    launch = posix.dup(IN_FD)
    keep = posix.dup(OUT_FD)
    _cloexec(launch)
    _cloexec(keep)
    mine, relay = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    for x in (mine, relay):     # a chunk's frame (256 KiB) whole, as the local transport's
        x.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDBUF, 1 << 20)
    posix.dup2(mine.fileno(), IN_FD)
    posix.dup2(mine.fileno(), OUT_FD)
    mine.close()
    for fd in (IN_FD, OUT_FD):
        _cloexec(fd)
    thread.start_new_thread(_tls_finish, (handshake, raw, fingerprint, token, where, err,
                                          relay, launch, keep))


def _tls_failed(err, where):
    e = sys.exc_info()[1]
    posix.write(err, ("econtext: cannot connect back to the master at %s: %s: %s\n"
                      % (where, type(e).__name__, e)).encode("utf-8", "replace"))
    posix._exit(1)


def _tls_finish(handshake, raw, fingerprint, token, where, err, relay, launch, keep):
    """The relay thread: wait for the TCP connect, handshake, pin, send the token (the
    HELLO waits in the socketpair meanwhile), then relay."""
    import _socket
    try:
        _wait(raw, False)
        ss, run = handshake(raw)
        run(raw, ss.do_handshake)
        seen = _sha256((ss.getpeercert if hasattr(ss, "getpeercert")
                        else ss.peer_certificate)(True)).hexdigest()
        if not _compare_digest(seen.encode("ascii"), fingerprint.encode("ascii")):
            raise ValueError("the master's certificate is not the pinned one "
                             "(sha256 %s, expected %s)" % (seen, fingerprint))
        # With the HELLO if it waits: one record, one wake-up of the master.
        relay.setblocking(False)
        data = token.encode("ascii")
        try:
            data += relay.recv(_RELAY_MAX)
        except _socket.error:
            pass
        while data:
            data = data[run(raw, ss.write, data):]
    except Exception:
        _tls_failed(err, where)
    posix.close(err)
    # The token is spent (the master refuses it from now on): kept for the tests' replay.
    _cfg["connected_back"] = (ss, relay, launch, keep, token, raw)
    _tls_relay(ss, relay, launch, raw)


_TLS_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"     # for TLS 1.2: AEAD only


def _wait(raw, read):
    """Until raw is readable (read) or writable: 30 s at most, as the socket timeout of
    the blocking steps; once writable, the outcome of its connect."""
    import _socket
    w = [] if read else [raw]
    if not select.select(read and [raw] or [], w, [], 30)[not read]:
        raise _socket.timeout("timed out")
    rc = w and raw.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
    if rc:
        raise _socket.error(rc, posix.strerror(rc))


def _tls_py3():
    """The TLS context on _ssl itself (`import ssl` costs ~13 ms of a context's start);
    returns the handshake's start on a connected socket."""
    import _ssl
    ctx = _ssl._SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False      # the certificate is pinned instead
    ctx.verify_mode = _ssl.CERT_NONE
    if hasattr(ctx, "minimum_version"):     # 3.7+
        ctx.minimum_version = 0x0303        # TLS 1.2
    else:
        ctx.options |= _ssl.OP_NO_SSLv3 | _ssl.OP_NO_TLSv1 | _ssl.OP_NO_TLSv1_1
    ctx.options |= _ssl.OP_NO_COMPRESSION | getattr(_ssl, "OP_NO_TICKET", 0)
    ctx.set_ciphers(_TLS_CIPHERS)
    again = (_ssl.SSLWantReadError, _ssl.SSLWantWriteError)

    def run(raw, op, *args):
        """op(*args), waiting for the non-blocking socket as it asks."""
        while True:
            try:
                return op(*args)
            except again:
                _wait(raw, isinstance(sys.exc_info()[1], again[0]))

    def start(raw):
        """The ClientHello sent (as far as the socket takes it) on a connected socket;
        the rest is run(raw, ss.do_handshake)."""
        ss = ctx._wrap_socket(raw, False)
        try:
            ss.do_handshake()
        except again:
            pass
        return ss, run
    return start


def _tls_py2():
    import socket
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_SSLv23)
    ctx.verify_mode = ssl.CERT_NONE
    for name in ("OP_NO_SSLv2", "OP_NO_SSLv3", "OP_NO_TLSv1", "OP_NO_TLSv1_1",
                 "OP_NO_COMPRESSION", "OP_NO_TICKET"):
        ctx.options |= getattr(ssl, name, 0)
    ctx.set_ciphers(_TLS_CIPHERS)

    def handshake(raw):
        raw.settimeout(30)      # blocking, the handshake done here
        return ctx.wrap_socket(socket.socket(_sock=raw)), lambda raw, op, *args: op(*args)
    return handshake


def _tls_relay(ss, loc, launch, raw):
    """One thread, both directions, the SSL object never used by two threads at once."""
    try:
        _relay_loop(ss, loc, launch, raw)
    except BaseException:
        e = sys.exc_info()[1]
        try:
            posix.write(2, ("econtext: connect-back relay failed: %s: %s\n"
                            % (type(e).__name__, e)).encode("utf-8", "replace"))
        finally:
            _exit_now(1)


def _relay_loop(ss, loc, launch, raw):
    import _socket
    import _ssl
    want_read = _ssl.SSLWantReadError
    want_write = _ssl.SSLWantWriteError
    again = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)
    raw.setblocking(False)
    loc.setblocking(False)
    # One chunk in hand each way, written from a view as it goes: no buffer copied
    # twice. A TLS write that could not finish is retried with the same chunk.
    up = down = None
    rd_wants_write = wr_wants_read = False
    while True:
        moved = True
        while moved:
            moved = False
            if down is None:
                # The records that came (16 KiB each at most), up to _RELAY_MAX, passed
                # on as one send: a file's 256 KiB chunk wakes the broker thread once,
                # not once a record.
                parts = []
                got = 0
                try:
                    while got < _RELAY_MAX:
                        data = ss.read(_RELAY_MAX - got)
                        rd_wants_write = False
                        if not data:
                            if parts:
                                break
                            _exit_now(0)    # the master closed: so does the context
                        parts.append(data)
                        got += len(data)
                except want_read:
                    pass
                except want_write:
                    rd_wants_write = True
                except (_ssl.SSLError, _socket.error):
                    _exit_now(0)
                if parts:
                    down = memoryview(parts[0] if len(parts) == 1 else b"".join(parts))
            if down is not None:
                try:
                    n = loc.send(down)
                    down = down[n:] if n < len(down) else None
                    moved = True
                except _socket.error:
                    if sys.exc_info()[1].args[0] not in again:
                        _exit_now(0)
            if up is None:
                try:
                    data = loc.recv(_RELAY_MAX)
                    if not data:
                        _exit_now(0)
                    up = memoryview(data)
                except _socket.error:
                    if sys.exc_info()[1].args[0] not in again:
                        _exit_now(0)
            if up is not None:
                try:
                    n = ss.write(up)
                    wr_wants_read = False
                    up = up[n:] if n < len(up) else None
                    moved = True
                except want_write:
                    pass
                except want_read:
                    wr_wants_read = True
                except (_ssl.SSLError, _socket.error):
                    _exit_now(0)
        rl = [launch]
        wl = []
        if down is None or wr_wants_read:
            rl.append(raw)
        if up is not None or rd_wants_write:
            wl.append(raw)
        if down is not None:
            wl.append(loc)
        if up is None:
            rl.append(loc)
        try:
            r = select.select(rl, wl, [])[0]
        except (OSError, select.error):
            if sys.exc_info()[1].args[0] == errno.EINTR:
                continue
            raise
        if launch in r:
            try:
                data = posix.read(launch, 4096)
            except OSError:
                data = b""
            if not data:
                # The launcher's stream ended: the context goes too, saying so with a
                # close_notify (a bare end would say the connection was cut).
                try:
                    (ss.shutdown if PY3 else ss.unwrap)()
                except Exception:
                    pass
                _exit_now(0)


_layer_starts["tls"] = _tls_connect_back
