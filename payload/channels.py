# channels.py: channels, the context side (docs/protocol.md, "Channels"), carried in
# the remote core as text and compiled when first needed (econtext_core.py _lazy). The
# master opens a channel (CHANNEL_OPEN: its handle and its window) and passes it to a
# function as econtext.Tagged('channel', handle); the function gets a Channel. Frames
# on the channel's handle carry their kind in reply_to: data (a pickled value), close,
# ack (bytes the receiver took), values (from us only: a burst's small values, each
# one's length then its bytes, in one frame), content (a file's chunk: raw bytes, its
# MAC over the channel's SHA-256 chain, docs/protocol.md 2). Each direction has a
# window of unacknowledged bytes:
# send() waits once it is full, so memory stays bounded on both sides whatever the
# speed of the reader. Waits are select()s on a pipe of the channel, which a cancel
# interrupts.

_CH_DATA, _CH_CLOSE, _CH_ACK, _CH_VALUES, _CH_CONTENT = 1, 2, 3, 4, 5
_LEN = Struct(">I")
# A value this small may wait in a batch (econtext_core.py _batch), of 128 values at
# most: a batch stays within max_message.
_SMALL = min(4096, _cfg["max_message"] >> 8)


class ChannelClosed(Exception):
    """The other side closed the channel (or the context is going)."""



class Channel(object):
    """A channel the master passed: send(value), close(), is_open(), get(timeout=None)
    and iteration over the values the master sends, until it closes the channel."""

    def __init__(self, handle, window):
        self.handle = handle
        self._window = window
        self._lock = thread.allocate_lock()
        self._inq = []              # pickles from the master, not yet taken, from _head
        self._head = 0
        self._to_ack = 0            # bytes taken, not yet acknowledged
        self._unacked = 0           # bytes sent, not yet acknowledged by the master
        self._master_closed = False
        self._closed = False        # closed by us
        self._waiters = 0           # threads in _wait: only they need a poke
        self._poked = False         # a byte is in the pipe, not yet drained
        self._last = -1.0           # when the main thread last sent a value
        # Content (docs/protocol.md 2): the chain of what came (the broker's), the
        # bytes and chain digest of what the function took, the chain of what it sent
        # (under _wlock)
        self._rx_chain = None
        self._taken = 0
        self._taken_digest = None
        self._tx_chain = None
        self._r, self._w = posix.pipe()
        _cloexec(self._r)
        _cloexec(self._w)

    def __repr__(self):
        return "<econtext.Channel %d%s>" % (self.handle, "" if self.is_open() else " closed")

    # -- the broker thread: frames on our handle --
    def _on_frame(self, handle, kind, payload):
        with self._lock:
            # content, or bytes taken as they are (kind 5 both): (size, bytes[, chain])
            if kind in (_CH_DATA, _CH_CONTENT):
                if not self._closed:
                    self._inq.append(payload)
            elif kind == _CH_CLOSE:
                self._master_closed = True
            elif kind == _CH_ACK:
                self._unacked -= loads(payload)
            else:
                shutdown(1, "channel %d: frame of unknown kind %d" % (handle, kind))
            self._poke()
            if self._master_closed and self._closed:
                self._forget()

    def _poke(self):
        """Wake a waiter (lock held). One byte at most in the pipe: a poke for every
        frame would fill it and block the broker thread."""
        if self._waiters and not self._poked:
            self._poked = True
            try:
                posix.write(self._w, b"x")
            except OSError:
                pass

    def _forget(self):
        """Both sides closed: no frame will come for it (lock held)."""
        if _channels.pop(self.handle, None) is not None:
            handlers.pop(self.handle, None)
            for fd in (self._r, self._w):
                try:
                    posix.close(fd)
                except OSError:
                    pass

    def _wait(self, deadline):
        """Until something happens on the channel, or deadline (monotonic s) passes:
        False then. Called with the lock held inside a _nocancel() region, which it
        ends (a cancel interrupts the wait); returns with the lock released."""
        self._waiters += 1
        self._lock.release()
        try:
            with _wlock:            # the master may be waiting for what is held
                _flush_held()
            _cancel_ok()        # the wait is where a cancel may interrupt
            timeout = None
            if deadline is not None:
                timeout = deadline - _monotonic()
                if timeout <= 0:
                    return False
            try:
                ready = select.select([self._r], [], [], timeout)[0]
            except (OSError, select.error):
                if sys.exc_info()[1].args[0] != errno.EINTR:
                    raise
                return True
            if ready:
                try:
                    posix.read(self._r, 64)
                except OSError:
                    pass
            return bool(ready)
        finally:
            _nocancel()
            with self._lock:
                self._waiters -= 1
                self._poked = False     # drained: the caller looks at the state again
            _cancel_ok()

    # -- the function's side --
    def is_open(self):
        """False once the master closed the channel (or we did)."""
        return not (self._master_closed or self._closed)

    def send(self, value):
        """Send value to the master; waits while the window is full. Raises
        ChannelClosed once the master closed the channel."""
        try:
            data = _bytes_parts(value) or dumps(value)
        except Exception:
            try:
                data = dumps(_carry(value))     # payload/values.py
            except _Refused:
                e = sys.exc_info()[1]
                raise TypeError(u"channel %d: value%s: %s" % (
                    self.handle, u"".join(reversed(e.path)), e.what))
        size = len(data) if type(data) is not tuple else sum(len(x) for x in data)
        self._room(size)
        try:
            # Small values the main thread sends in a burst (the last one less than
            # _HOLD_S ago) go out together, as one frame of kind _CH_VALUES: framed
            # once 128 are in, before any other frame, or by the broker thread
            # _HOLD_S after the batch began (econtext_core.py _batch).
            if thread.get_ident() == _main_ident[0]:
                if not _clock:
                    _start_hold()
                now = _clock[0]()
                last, self._last = self._last, now
                if now - last < _HOLD_S and size < _SMALL:
                    with _wlock:
                        if _batch and _batch[0] != self.handle:
                            _frame_batch()
                        if not _batch:
                            _batch.append(self.handle)
                            if not _held:
                                _start_hold(now)
                        _batch.append(_LEN.pack(size) + data)
                        if len(_batch) > 128:
                            _fast_mac()     # a long burst: the faster hash from now on
                            _frame_batch()
                    return
            _send_nc(self.handle, data, _CH_DATA)
        finally:
            _cancel_ok()

    def _room(self, size):
        """Wait until size bytes fit the window, and count them; returns inside a
        _nocancel() region (the frame too), which the caller ends."""
        if size > _cfg["max_message"]:
            raise ValueError("a value of %d bytes is over the maximum message size of %d "
                             "bytes" % (size, _cfg["max_message"]))
        while True:
            _nocancel()         # CallCancelled between acquire and release: held forever
            self._lock.acquire()
            if self._closed or self._master_closed:
                self._lock.release()
                _cancel_ok()
                raise ChannelClosed("channel %d is closed" % self.handle)
            if not self._unacked or self._unacked + size <= self._window:
                self._unacked += size
                self._lock.release()
                return
            self._wait(None)

    def _send_content(self, data):
        """data (bytes) to the master as content (docs/protocol.md 2): raw, its frame's
        MAC over the chain of all content sent on the channel, whose digest is then the
        SHA-256 of all of it (a file's, for _get: hashed once, not twice)."""
        self._room(len(data))
        try:
            with _wlock:        # one chain, whichever thread sends first
                chain = self._tx_chain = self._tx_chain or _chain_new()
            _send_nc(self.handle, data, _CH_CONTENT, chain=chain)
        finally:
            _cancel_ok()

    def _content_sent(self):
        """The SHA-256 (hex) of the content sent on the channel."""
        return (self._tx_chain or _chain_new()).hexdigest()

    def _content_taken(self):
        """(bytes, SHA-256 hex) of the content the function took."""
        d = self._taken_digest
        if d is None:
            return 0, _chain_new().hexdigest()
        return self._taken, "".join(["%02x" % c for c in bytearray(d)])

    def get(self, timeout=None):
        """The next value the master sent; waits up to timeout seconds (None: no
        limit). Raises ChannelClosed once the master closed it and all it sent was
        taken, ChannelTimeout when nothing came in time."""
        deadline = None if timeout is None else _monotonic() + timeout
        while True:
            _nocancel()
            self._lock.acquire()
            if self._head < len(self._inq):
                payload = self._inq[self._head]
                self._inq[self._head] = None
                self._head += 1
                if self._head > 64 and self._head * 2 > len(self._inq):
                    del self._inq[:self._head]
                    self._head = 0
                # Acknowledge in batches; all of it once nothing is left (the master
                # may be waiting for the window).
                size = payload[0] if type(payload) is tuple else len(payload)
                if type(payload) is tuple and len(payload) == 3:     # content
                    self._taken += size
                    self._taken_digest = payload[2]
                self._to_ack += size
                ack = 0
                if self._head == len(self._inq) or self._to_ack >= self._window // 8:
                    ack, self._to_ack = self._to_ack, 0
                self._lock.release()
                _cancel_ok()
                break
            if self._master_closed or self._closed:
                self._lock.release()
                _cancel_ok()
                raise ChannelClosed("channel %d is closed" % self.handle)
            if not self._wait(deadline):
                raise ChannelTimeout("nothing came on channel %d within %s s"
                                     % (self.handle, timeout))
        if ack and not self._master_closed:     # closed: it sends no more, needs none
            send_raw(self.handle, dumps(ack), _CH_ACK)
        return payload[1] if type(payload) is tuple else loads(payload)

    def __iter__(self):
        while True:
            try:
                yield self.get()
            except ChannelClosed:
                return

    def close(self):
        """No more from us: the master's receive ends after what we sent."""
        _nocancel()
        try:
            with self._lock:
                if self._closed:
                    return
                self._closed = True
                self._inq = []
                self._head = 0
                forget = self._master_closed
            send_raw(self.handle, dumps(None), _CH_CLOSE)
            if forget:
                with self._lock:
                    self._forget()
        finally:
            _cancel_ok()


class ChannelTimeout(Exception):
    """Channel.get(timeout) found nothing in time."""



def _frame_batch():
    """The values in _batch as one frame (_wlock held): each one's length (4 bytes,
    big-endian), then its bytes."""
    h = _batch.pop(0)
    data = b"".join(_batch)
    del _batch[:]
    _framed(h, data, _CH_VALUES)


def _monotonic():
    import time                 # not at boot: only a get() with a timeout needs it
    return getattr(time, "monotonic", time.time)()


def _on_channel_open(handle, reply_to, payload):
    h, window = loads(payload)
    ch = Channel(h, window)
    _channels[h] = ch
    handlers[h] = ch._on_frame


def _channel_arg(h):
    ch = _channels.get(h)
    if ch is None:
        raise ValueError("no channel %r is open" % (h,))
    _call_channels.append(ch)
    return ch


def _close_call_channels():
    """The call returned: close what it was passed (the master's receive ends)."""
    while _call_channels:
        try:
            _call_channels.pop().close()
        except Exception:
            pass


for _cls in (Channel, ChannelClosed, ChannelTimeout):
    _cls.__module__ = "econtext"
    setattr(_econtext, _cls.__name__, _cls)
handlers[CHANNEL_OPEN] = _on_channel_open
