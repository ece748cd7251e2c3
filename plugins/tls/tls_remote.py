# tls_remote.py: the tls layer's context side (ec_transport_ops.remote_source, docs/tls.md).
# The master appends it to the remote core (payload/econtext_core.py) for a context whose
# stack has the tls layer, compiled with it, in the core's globals (and so in the
# core's cached code object); the core's _ec_main calls _layer_starts["tls"] with the
# layer's boot words, ADDRESS PORT FINGERPRINT TOKEN, before it sets up stdio. Runs
# unchanged on 2.7 and 3.6 to 3.13.
_RELAY_MAX = 1 << 18    # the most the relay reads at once, each way
_TLS_IDLE_S = 0.003     # after the HELLO, the TLS set-up starts once nothing moved this long
                        # and no call is queued, running or unread (_core_idle)
_TLS_LATE_S = 0.05      # or this long after the HELLO at the latest
_TLS_WAIT_S = 30        # the connect, the handshake and the master's count: at most
_TLS_COUNT = 16         # a byte count on the connection: 16 hex digits
_TLS_RETRY_S = 0.01     # the core's write lock taken: go direct again this much later


def _tls_connect_back(words):
    """The lazy switch (docs/tls.md): fds 100 and 101 become one end of a socketpair whose
    other end a relay thread joins to the launcher's stream at once, so that ECREADY,
    the HELLO and the first calls go over it without waiting; the relay thread sets up
    TLS meanwhile (after the HELLO has gone) and moves the bytes to the connection at a
    byte count each way. The launcher's stream then stays open only to tie lives: its
    end, or the connection's, ends the context."""
    import _socket
    import time
    # The relay thread imports nothing: an import there could wait for the import lock
    # that the main thread holds while a module comes from the master (2.7's global
    # lock; 3.6's around a finder), through that relay. A helper thread imports.
    _tls_mods[:] = [_socket, getattr(time, "monotonic", time.time)]
    # Both ends of the launcher's stream stay open (over ssh, closing its stdout would
    # end the channel).
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
    _cfg["tls_state"] = "launcher"
    _econtext.connect_back_state = _tls_state
    lock = _cfg["tls_switch"] = thread.allocate_lock()   # released once switched
    lock.acquire()
    lock = _cfg["tls_direct_in"] = thread.allocate_lock()  # released by hand_in
    lock.acquire()
    thread.start_new_thread(_tls_relay, (words, relay, launch, keep))


_tls_mods = []      # _socket, the clock: for the relay thread, which imports nothing


def _time():
    return _tls_mods[1]()


def _core_idle():
    """Whether the core has no call to run: none unread on fd 100, none queued, the main
    thread waiting for one. The set-up's import holds the GIL for milliseconds: started
    while the first call ran (the relay idle, the call not done; a slow machine), it
    delayed that call's result by as much."""
    return _sleeping[0] and not _queue and not select.select([IN_FD], [], [], 0)[0]


def _tls_state(wait=False):
    """econtext.connect_back_state(wait=False): where this context's frames go:
    "launcher" (over its transport), "upstream" (its own on the connection, the
    master's still over the transport) or "switched" (both on the connection); with
    wait, once switched (a failed set-up ends the context instead)."""
    if wait:
        _cfg["tls_switch"].acquire()
        _cfg["tls_switch"].release()
    return _text(_cfg["tls_state"])


def _tls_relay(words, loc, launch, keep):
    try:
        _Relay(words, loc, launch, keep).run()
    except BaseException:
        e = sys.exc_info()[1]
        try:
            posix.write(2, ("econtext: connect-back relay failed: %s: %s\n"
                            % (type(e).__name__, e)).encode("utf-8", "replace"))
        finally:
            _exit_now(1)


def _tls_say(text, done):
    """A failure of the set-up, said as the core's LOG frame (the launcher's stream still
    carries the frames); then one byte on done for the relay, which exits once it has
    passed the frame on."""
    try:
        send(LOG, (u"econtext", 40, _text("context %s: %s" % (_cfg.get("name"), text))))
    finally:
        posix.write(done, b"x")


def _write_all(fd, view):
    while view:
        try:
            view = view[posix.write(fd, view):]
        except OSError:
            e = sys.exc_info()[1].args[0]
            if e == errno.EAGAIN:
                select.select([], [fd], [])
            elif e != errno.EINTR:
                raise


class _Relay(object):
    """One thread, both directions, the SSL object never used by two threads at once.
    Steps: 0 the launcher's stream only; 1 the TLS context being made (on a helper
    thread, the relay relaying meanwhile, as in every step up to 4); 2 the TCP connect
    under way; 3 the handshake; 4 the token and U (the bytes written on the launcher)
    sent, upstream on TLS from then on, the master's D awaited; 5 D bytes read from the
    launcher: downstream on TLS too. -1: the set-up failed, said in a LOG frame that
    goes out on the launcher's stream before the context exits. From step 4 on, the
    core writes to the connection itself (go_direct): the relay then carries only the
    master's bytes. sslock: one TLS op at a time, the relay's or the core's writer's."""

    def __init__(self, words, loc, launch, keep):
        host, port, self.fp, self.token = words.split()
        self.addr = (host, int(port))
        self.where = "%s port %s" % (host, port)
        self.loc, self.launch, self.keep = loc, launch, keep
        self.up = self.down = self.ss = self.raw = self.start = None
        self.sent = self.got = 0
        # One buffer each way, read into and written from, reused once written out (a
        # chunk is never copied, nor a 256 KiB block allocated per TLS record read).
        self.ubuf = memoryview(bytearray(_RELAY_MAX))
        self.dbuf = memoryview(bytearray(_RELAY_MAX))
        self.d = None
        self.head = b""
        self.step = 0
        self.hello = self.deadline = None
        self.hs_write = self.rd_wants_write = self.wr_wants_read = False
        self.lr = False         # the launcher's stream readable (select said)
        self.errs = (KeyError,) * 3     # TLS's errors, once imported: want read, want
                                        # write, any; until then never raised
        self.done = None        # a failure's pipe, once said
        self.sslock = thread.allocate_lock()
        self.direct = False     # the core's _write goes to the connection itself
        self.direct_in = False  # the core reads the connection itself (_inq)
        self.up_tls = 0         # the bytes this thread wrote on the connection
        self.down_loc = 0       # the bytes it passed to the core over the socketpair
        self.made = None        # the set-up helper's pipe
        self.ending = False

    def run(self):
        loc, launch = self.loc, self.launch
        loc.setblocking(False)
        while True:
            moved = self.move()
            if self.step >= 4 and not self.direct and self.up is None:
                self.go_direct()
            if self.step == 5 and self.direct and not self.direct_in and self.down is None:
                self.hand_in()
            if self.ending and not moved and self.up is None:
                _exit_now(1)
            if self.step == 0 and self.hello is not None and (
                    (not moved and _core_idle()) or _time() >= self.hello + _TLS_LATE_S):
                # Idle, or late: the set-up starts (its slow part on a helper thread).
                self.attempt(self.setup)
                continue
            rl, wl = [], []
            if self.up is None:
                rl.append(loc)
            if self.down is not None:
                wl.append(loc)
            if self.step == 5 or (self.down is None and (self.d is None or self.got < self.d)):
                rl.append(launch)
            raw = self.raw
            if self.step == 2 or (self.step == 3 and self.hs_write) or \
                    (self.step >= 4 and (self.up is not None or self.rd_wants_write)):
                wl.append(raw)
            if (self.step == 3 and not self.hs_write) or (self.step == 4 and self.d is None) or \
                    (self.step >= 4 and self.wr_wants_read and not self.direct_in) or \
                    (self.step == 5 and self.down is None and not self.direct_in):
                rl.append(raw)
            if self.done is not None:
                rl.append(self.done)
            if self.step == 1:
                rl.append(self.made)
            timeout = None
            if self.step == 0 and self.hello is not None:
                timeout = _TLS_IDLE_S
            elif 1 <= self.step <= 4 and self.d is None:
                timeout = max(0, self.deadline - _time())
            if self.step >= 4 and not self.direct_in:
                # go_direct again soon if the core was writing (its lock taken)
                timeout = _TLS_RETRY_S if timeout is None else min(timeout, _TLS_RETRY_S)
            try:
                r, w = select.select(rl, wl, [], timeout)[:2]
            except (OSError, select.error):
                if sys.exc_info()[1].args[0] == errno.EINTR:
                    continue
                raise
            if self.done is not None and self.done in r:
                self.ending = True
            self.lr = launch in r
            if self.step == 5 and self.lr and self.d is not None:
                self.lr = False
                self.watch()
            if 1 <= self.step <= 4 and self.d is None and not r and not w and \
                    _time() >= self.deadline:
                self.attempt(self.timed_out)
            if self.step == 1 and self.made in r:
                self.attempt(self.context)
            elif self.step == 2 and raw in w:
                self.attempt(self.connected)
            elif self.step == 3 and (raw in r or raw in w):
                self.attempt(self.handshake)

    def attempt(self, fn):
        try:
            fn()
        except Exception:
            e = sys.exc_info()[1]
            self.fail("%s: %s" % (type(e).__name__, e))

    def fail(self, why):
        if self.step >= 4:      # frames went on the connection already: nothing to say
            _exit_now(1)
        self.step = -1
        for x in (self.ss, self.raw):
            try:
                x and x.close()
            except Exception:
                pass
        self.ss = self.raw = None
        r, w = posix.pipe()
        self.done = r
        thread.start_new_thread(_tls_say, (
            "cannot connect back to the master at %s: %s" % (self.where, why), w))

    def setup(self):
        """The slow part on a helper thread (it holds the GIL: 3.x's `import _ssl` 2-3 ms
        and its context 1.5-2 ms), which says when it is done on a pipe."""
        self.deadline = _time() + _TLS_WAIT_S
        self.step = 1
        r, w = posix.pipe()
        self.made = r
        thread.start_new_thread(_tls_make, (self, w))

    def context(self):
        posix.close(self.made)
        self.made = None
        if isinstance(self.start, Exception):
            raise self.start
        self.errs = _tls_errors()
        self.connect()

    def connect(self):
        _socket = _tls_mods[0]
        # A subclass: _ssl keeps a weak reference to the socket, which _socket's lacks.
        sock = type("_TLSSocket", (_socket.socket,), {})
        host = self.addr[0]
        self.raw = raw = sock(_socket.AF_INET6 if ":" in host else _socket.AF_INET,
                              _socket.SOCK_STREAM)
        raw.setblocking(False)
        # No Nagle: the token would wait for the delayed ACK of the handshake's last
        # flight (40 ms here).
        raw.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        self.step = 2
        rc = raw.connect_ex(self.addr)
        if rc not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            raise _socket.error(rc, posix.strerror(rc))

    def connected(self):
        _socket = _tls_mods[0]
        rc = self.raw.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
        if rc:
            raise _socket.error(rc, posix.strerror(rc))
        self.step = 3
        self.ss = self.start(self.raw)
        self.handshake()

    def timed_out(self):
        raise _tls_mods[0].timeout("%s not done in %d s" % (
            ("the TLS set-up", "the TCP connect", "the TLS handshake",
             "the master's answer")[self.step - 1],
            _TLS_WAIT_S))

    def handshake(self):
        try:
            self.ss.do_handshake()
        except self.errs[0]:
            self.hs_write = False
            return
        except self.errs[1]:
            self.hs_write = True
            return
        ss = self.ss
        seen = _sha256((ss.getpeercert if hasattr(ss, "getpeercert")
                        else ss.peer_certificate)(True)).hexdigest()
        if not _compare_digest(seen.encode("ascii"), self.fp.encode("ascii")):
            raise ValueError("the master's certificate is not the pinned one "
                             "(sha256 %s, expected %s)" % (seen, self.fp))
        # Upstream moves now: the token, U, then what the core writes next.
        self.up = memoryview(("%s%016x" % (self.token, self.sent)).encode("ascii"))
        self.step = 4
        _cfg["tls_state"] = "upstream"
        # The token is spent (the master refuses it from now on): kept for the tests' replay.
        _cfg["connected_back"] = (ss, self.loc, self.launch, self.keep, self.token, self.raw)

    def go_direct(self):
        """The core's writes go to the connection themselves from now on (its _write
        rebound to self.write): no socketpair, no pass of this thread, no copy on the
        way up. Taken between two of the core's writes (its _wlock, never waited for:
        a writer blocked on the socketpair waits for this thread) once what it wrote
        before is on the connection, so that no byte overtakes another."""
        global _write
        if not _wlock.acquire(False):
            return
        try:
            self.move()     # to the socketpair's end: its recv says EAGAIN, up is None
            if self.up is None:
                _write = self.write
                self.direct = True
                _cfg["tls_direct"] = self
        finally:
            _wlock.release()

    def hand_in(self):
        """The core reads the connection itself from now on (_inq), once it has read
        what this thread passed to the socketpair: this thread reads the connection no
        more, and wakes the core's broker thread to look."""
        _inq[:] = [self.raw.fileno(), self.read, self.pending]
        self.direct_in = True
        _cfg["tls_direct_in"].release()
        posix.write(_bwake[1], b"x")

    def read(self, size):
        """The core's read once direct (its broker thread): what the connection has,
        up to size; None: nothing yet; b"": its end."""
        want_read, want_write, ssl_error = self.errs
        _socket = _tls_mods[0]
        parts = []
        got = 0
        ss = self.ss
        self.sslock.acquire()
        try:
            while got < size:
                b = ss.read(size - got)
                if not b:
                    if not got:
                        return b""
                    break
                parts.append(b)
                got += len(b)
        except (want_read, want_write):
            pass
        except (ssl_error, _socket.error):
            if not got:
                return b""
        finally:
            self.sslock.release()
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def pending(self):
        """Bytes the TLS object holds decrypted (a select on the socket misses them)."""
        self.sslock.acquire()
        try:
            return self.ss.pending()
        finally:
            self.sslock.release()

    def write(self, data):
        """The core's _write once direct (its _wlock held): TLS records straight onto
        the connection, waiting for it to take them without holding sslock."""
        want_read, want_write, ssl_error = self.errs
        _socket = _tls_mods[0]
        lock, ss, raw = self.sslock, self.ss, self.raw
        view = memoryview(data)
        while view:
            lock.acquire()
            try:
                n = ss.write(view)
            except want_write:
                n = 0
            except want_read:   # not in TLS 1.3; the relay reads meanwhile
                n = -1
            except (ssl_error, _socket.error):
                _exit_now(0)    # the master closed: so does the context
            finally:
                lock.release()
            if n > 0:
                view = view[n:]
                continue
            try:
                if n:
                    select.select([raw], [], [], 0.01)
                else:
                    select.select([], [raw], [])
            except (OSError, select.error):
                if sys.exc_info()[1].args[0] != errno.EINTR:
                    raise

    def watch(self):
        """Switched both ways: the launcher's stream only ties lives."""
        try:
            data = posix.read(self.launch, 4096)
        except OSError:
            data = b"" if sys.exc_info()[1].args[0] != errno.EAGAIN else b"-"
        if not data:
            # Its end: the context goes too, saying so with a close_notify (a bare end
            # would say the connection was cut).
            self.sslock.acquire()
            try:
                (self.ss.shutdown if PY3 else self.ss.unwrap)()
            except Exception:
                pass
            _exit_now(0)

    def move(self):
        """Move what can move without waiting; whether anything did."""
        _socket = _tls_mods[0]
        # Until the set-up, placeholders never met: only TLS ops raise these.
        want_read, want_write, ssl_error = self.errs
        again = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)
        loc, ss = self.loc, self.ss
        any_moved = False
        moved = True
        while moved:
            moved = False
            # ---- downstream: the launcher's D bytes, then the connection's
            if self.down is None and self.step == 4 and self.d is None:
                self.sslock.acquire()
                try:
                    more = ss.read(_TLS_COUNT - len(self.head))
                    if not more:
                        _exit_now(1)    # the master refused the connection
                    self.head += more
                    if len(self.head) == _TLS_COUNT:
                        self.d = int(self.head, 16)
                        if self.got > self.d:
                            _exit_now(1)
                        moved = True
                except (want_read, want_write):
                    pass
                except (ssl_error, _socket.error):
                    _exit_now(1)
                finally:
                    self.sslock.release()
            if self.down is None and self.lr and self.step < 5:
                self.lr = False
                want = _RELAY_MAX if self.d is None else min(_RELAY_MAX, self.d - self.got)
                try:
                    data = posix.read(self.launch, want) if want > 0 else b"-"
                except OSError:
                    data = b"" if sys.exc_info()[1].args[0] not in again else None
                if data == b"":
                    _exit_now(0)    # the launcher's stream ended: the context goes too
                if data and want > 0:
                    self.got += len(data)
                    self.down = memoryview(data)
            if self.down is None and self.step == 4 and self.d == self.got:
                self.step = 5
                _cfg["tls_state"] = "switched"
                _cfg["tls_switch"].release()
                moved = True
            if self.down is None and self.step == 5 and not self.direct_in:
                # The records that came (16 KiB each at most), up to _RELAY_MAX, passed
                # on as one send: a file's 256 KiB chunk wakes the broker thread once,
                # not once a record.
                buf = self.dbuf
                got = 0
                self.sslock.acquire()
                try:
                    while got < _RELAY_MAX:
                        n = ss.read(_RELAY_MAX - got, buf[got:])
                        self.rd_wants_write = False
                        if not n:
                            if got:
                                break
                            _exit_now(0)    # the master closed: so does the context
                        got += n
                except want_read:
                    pass
                except want_write:
                    self.rd_wants_write = True
                except (ssl_error, _socket.error):
                    _exit_now(0)
                finally:
                    self.sslock.release()
                if got:
                    self.down = buf[:got]
            if self.down is not None:
                try:
                    n = loc.send(self.down)
                    self.down_loc += n
                    self.down = self.down[n:] if n < len(self.down) else None
                    moved = True
                except _socket.error:
                    if sys.exc_info()[1].args[0] not in again:
                        _exit_now(0)
            # ---- upstream: to the launcher until the switch, then to the connection
            if self.up is None:
                try:
                    n = loc.recv_into(self.ubuf)
                    if not n:
                        _exit_now(0)
                    self.up = self.ubuf[:n]
                except _socket.error:
                    if sys.exc_info()[1].args[0] not in again:
                        _exit_now(0)
            if self.up is not None and self.step < 4:
                _write_all(self.keep, self.up)
                self.sent += len(self.up)
                self.up = None
                moved = True
                if self.hello is None:
                    self.hello = _time()    # ECREADY and the HELLO went out
            elif self.up is not None:
                self.sslock.acquire()
                try:
                    n = ss.write(self.up)
                    self.wr_wants_read = False
                    self.up_tls += n
                    self.up = self.up[n:] if n < len(self.up) else None
                    moved = True
                except want_write:
                    pass
                except want_read:
                    self.wr_wants_read = True
                except (ssl_error, _socket.error):
                    _exit_now(0)
                finally:
                    self.sslock.release()
            any_moved = any_moved or moved
        return any_moved


def _tls_make(relay, done):
    try:
        relay.start = (_tls_py3 if PY3 else _tls_py2)()
    except Exception:
        relay.start = sys.exc_info()[1]     # said by the relay, as any set-up failure
    posix.write(done, b"x")
    posix.close(done)


def _tls_errors():
    """want read, want write, any TLS error: _ssl's on 3.x, ssl's on 2.7 (imported by
    now, by _tls_make)."""
    m = sys.modules["_ssl" if PY3 else "ssl"]
    return m.SSLWantReadError, m.SSLWantWriteError, m.SSLError


_TLS_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"     # for TLS 1.2: AEAD only


def _tls_py3():
    """The TLS context on _ssl itself (`import ssl` costs ~13 ms of a context's start);
    returns the handshake's start on a connected non-blocking socket."""
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

    def start(raw):
        return ctx._wrap_socket(raw, False)
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

    def start(raw):
        return ctx.wrap_socket(socket.socket(_sock=raw), do_handshake_on_connect=False)
    return start


_layer_starts["tls"] = _tls_connect_back
