# econtext tls layer, the context's side (docs/tls.md; ec_transport_ops.remote_source).
# The interpreter that becomes the context runs this first, in __main__, before its
# loader reads the core, with _ec_words bound to the layer's boot words: ADDRESS PORT
# FINGERPRINT TOKEN. It forks the relay at once: loading _ssl, OpenSSL's set-up, the
# TCP connect and the handshake (~4 ms) run on another CPU while this process loads
# the core and boots, and in bulk the relay shares no GIL with the code producing the
# frames (docs/benchmarks.md). Runs unchanged on 2.7 and 3.6+; posix, not os.


def _ec_tls(words):
    """Start the relay process; fds 100 and 101 become this process's end of a
    socketpair whose other end the relay joins to the TLS connection. Returns what the
    tests read (tests/data/tls/tlsfn.py): the relay's report pipe, the launcher's
    input, the token (spent once sent: the master refuses it from then on) and the TCP
    socket."""
    import errno
    import posix
    import select
    import sys
    import _socket
    py3 = sys.version_info[0] >= 3
    host, port, fingerprint, token = words.decode("ascii").split()
    where = "%s port %s" % (host, port)
    # A failure is said on the launcher's stream as boot output, before ECREADY, so
    # the master quotes it.
    err = posix.dup(2)

    def failed():
        e = sys.exc_info()[1]
        posix.write(err, ("econtext: cannot connect back to the master at %s: %s: %s\n"
                          % (where, type(e).__name__, e)).encode("utf-8", "replace"))
        posix._exit(1)

    try:
        # A subclass: _ssl keeps a weak reference to the socket, which _socket's lacks.
        sock = type("_TLSSocket", (_socket.socket,), {})
        raw = sock(_socket.AF_INET6 if ":" in host else _socket.AF_INET, _socket.SOCK_STREAM)
        raw.setblocking(False)
        rc = raw.connect_ex((host, int(port)))
        # No Nagle: the token and HELLO would wait for the delayed ACK of the
        # handshake's last flight (40 ms here).
        raw.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        if rc not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            raise _socket.error(rc, posix.strerror(rc))
    except Exception:
        failed()
    mine, relay = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    info, said = posix.pipe()
    if not posix.fork():
        mine.close()
        posix.close(info)
        try:
            _ec_tls_relay(raw, relay, fingerprint, token, said, failed, py3)
        except BaseException:
            e = sys.exc_info()[1]
            try:
                posix.write(2, ("econtext: connect-back relay failed: %s: %s\n"
                                % (type(e).__name__, e)).encode("utf-8", "replace"))
            finally:
                posix._exit(1)
    relay.close()
    posix.close(err)
    posix.close(said)
    conn = (info, posix.dup(100), token, raw)
    # The core marks 100 and 101 close-on-exec; 2.7 makes the rest inheritable.
    posix.dup2(mine.fileno(), 100)
    posix.dup2(mine.fileno(), 101)
    mine.close()
    if not py3:
        import fcntl
        for fd in (info, conn[1], raw.fileno()):
            fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
    return conn


def _ec_tls_relay(raw, loc, fingerprint, token, said, failed, py3):
    """The relay process: set up TLS, wait for the TCP connect, handshake, pin, send
    the token (the HELLO waits in the socketpair meanwhile, and goes in the same
    record when it is there), say what was negotiated, then relay both ways in one
    loop, watching the launcher's input (fd 100 here) for its end."""
    import errno
    import posix
    import select
    import sys
    import _socket
    most = 1 << 18      # the most read at once, each way
    try:
        posix.close(102)    # the core's pipe: the loader's, not the relay's
        # The path the first stage computed from the real executable (the core does the
        # same): _ssl may live where this interpreter alone would not look.
        boot = posix.environ.get(b"EC_BOOT" if py3 else "EC_BOOT")
        if boot:
            sys.path[:] = eval(boot)[2]
    except Exception:
        pass

    def wait(read):
        """Until raw is readable (read) or writable: 30 s at most; once writable, the
        outcome of its connect."""
        w = [] if read else [raw]
        if not select.select(read and [raw] or [], w, [], 30)[not read]:
            raise _socket.timeout("timed out")
        rc = w and raw.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
        if rc:
            raise _socket.error(rc, posix.strerror(rc))

    ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20"     # for TLS 1.2: AEAD only
    try:
        if py3:
            # _ssl itself: `import ssl` costs ~13 ms of a start (enum, socket, re).
            import _ssl as ssl
            ctx = ssl._SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False      # the certificate is pinned instead
            ctx.verify_mode = ssl.CERT_NONE
            if hasattr(ctx, "minimum_version"):     # 3.7+
                ctx.minimum_version = 0x0303        # TLS 1.2
            else:
                ctx.options |= ssl.OP_NO_SSLv3 | ssl.OP_NO_TLSv1 | ssl.OP_NO_TLSv1_1
            ctx.options |= ssl.OP_NO_COMPRESSION | getattr(ssl, "OP_NO_TICKET", 0)
            ctx.set_ciphers(ciphers)
            again = (ssl.SSLWantReadError, ssl.SSLWantWriteError)

            def run(op, *args):
                """op(*args), waiting for the non-blocking socket as it asks."""
                while True:
                    try:
                        return op(*args)
                    except again:
                        wait(isinstance(sys.exc_info()[1], again[0]))
            wait(False)
            ss = ctx._wrap_socket(raw, False)
        else:
            import socket
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_SSLv23)
            ctx.verify_mode = ssl.CERT_NONE
            for name in ("OP_NO_SSLv2", "OP_NO_SSLv3", "OP_NO_TLSv1", "OP_NO_TLSv1_1",
                         "OP_NO_COMPRESSION", "OP_NO_TICKET"):
                ctx.options |= getattr(ssl, name, 0)
            ctx.set_ciphers(ciphers)
            wait(False)
            raw.settimeout(30)      # blocking, the handshake done here
            ss = ctx.wrap_socket(socket.socket(_sock=raw))

            def run(op, *args):
                return op(*args)
        run(ss.do_handshake)
        if sys.version_info >= (3, 12):
            from _sha2 import sha256
        else:
            from _sha256 import sha256
        seen = sha256((ss.getpeercert if hasattr(ss, "getpeercert")
                       else ss.peer_certificate)(True)).hexdigest()
        if seen != fingerprint:     # not secret: no constant time needed
            raise ValueError("the master's certificate is not the pinned one "
                             "(sha256 %s, expected %s)" % (seen, fingerprint))
        loc.setblocking(False)
        data = token.encode("ascii")
        try:
            data += loc.recv(most)
        except _socket.error:
            pass
        while data:
            data = data[run(ss.write, data):]
    except Exception:
        failed()
    posix.write(said, ("%s %s %s" % (ss.version(), ss.cipher()[0], seen)).encode("ascii"))
    posix.close(said)

    want_read = ssl.SSLWantReadError
    want_write = ssl.SSLWantWriteError
    cut = (ssl.SSLError, _socket.error)
    again = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)
    raw.setblocking(False)
    # One chunk in hand each way, written from a view as it goes: no buffer copied
    # twice. A TLS write that could not finish is retried with the same chunk.
    up = down = None
    rd_wants_write = wr_wants_read = False
    while True:
        moved = True
        while moved:
            moved = False
            if down is None:
                try:
                    data = ss.read(most)
                    rd_wants_write = False
                    if not data:
                        posix._exit(0)      # the master closed: so does the context
                    down = memoryview(data)
                except want_read:
                    pass
                except want_write:
                    rd_wants_write = True
                except cut:
                    posix._exit(0)
            if down is not None:
                try:
                    n = loc.send(down)
                    down = down[n:] if n < len(down) else None
                    moved = True
                except _socket.error:
                    if sys.exc_info()[1].args[0] not in again:
                        posix._exit(0)
            if up is None:
                try:
                    data = loc.recv(most)
                    if not data:
                        posix._exit(0)      # the context ended
                    up = memoryview(data)
                except _socket.error:
                    if sys.exc_info()[1].args[0] not in again:
                        posix._exit(0)
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
                except cut:
                    posix._exit(0)
        rl = [100]
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
        if 100 in r:
            try:
                data = posix.read(100, 4096)
            except OSError:
                data = b""
            if not data:
                # The launcher's stream ended: the context goes too, saying so with a
                # close_notify (a bare end would say the connection was cut).
                try:
                    (ss.shutdown if py3 else ss.unwrap)()
                except Exception:
                    pass
                posix._exit(0)


_ec_tls_conn = _ec_tls(_ec_words)
del _ec_tls, _ec_tls_relay, _ec_words
