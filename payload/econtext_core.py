# econtext remote core (docs/protocol.md). Runs as __main__ of an interpreter started
# by the first stage as `python -S` reading this source from a pipe; the master
# appends `_ec_main({...})`. Must run on CPython 2.7 and 3.6 to 3.13: no f-strings,
# nothing removed by 3.13. Every import costs start-up time in every context, so only
# builtin or tiny extension modules are imported here; logging and traceback are
# loaded when first needed.
import sys
import posix


def _env_key(k):
    return k if isinstance(k, bytes) else k.encode("ascii")


# Before anything is imported through sys.path: drop '' (the cwd must not shadow
# our modules) and take over what the first stage computed from the real executable
# (this interpreter only knows argv[0], the master's name for it):
# [first-stage child pid, executable, sys.path, PYTHONUNBUFFERED or 0, PYTHONHOME or 0].
_boot = posix.environ.pop(_env_key("EC_BOOT"), None)
if _boot is not None:
    posix.unsetenv("EC_BOOT")
    if str is not bytes:
        _boot = _boot.decode(sys.getfilesystemencoding(), "surrogateescape")
    _boot = eval(_boot)
    # What this start was given (the exec stage's, or the master's for a direct boot):
    # kept for boot_info, before the master's own value is put back.
    _boot_home = posix.environ.get(_env_key("PYTHONHOME"))
    # Put back what the exec stage took out of the environment or set for this start
    # alone (payload/exec_stage.py): a child process must see the master's values.
    for _name, _value in (("PYTHONUNBUFFERED", _boot[3]), ("PYTHONHOME", _boot[4])):
        if _value:
            posix.putenv(_name, _value)
            posix.environ[_env_key(_name)] = _env_key(_value)
        else:
            posix.unsetenv(_name)
            posix.environ.pop(_env_key(_name), None)
        if "os" in sys.modules:
            _env = sys.modules["os"].environ
            _env.pop(_name, None)
            if _value:
                _env[_name] = _value if str is bytes or type(_value) is str \
                    else _value.decode(sys.getfilesystemencoding(), "surrogateescape")
    sys.executable = _boot[1]
    if not getattr(sys, "_base_executable", 1):
        sys._base_executable = _boot[1]
    sys.path[:] = _boot[2]
    if "os" in sys.modules:
        sys.modules["os"].environ.pop("EC_BOOT", None)
sys.path[:] = [p for p in sys.path if p]

import errno
import select
if sys.version_info[0] >= 3:
    import _signal
else:
    import signal as _signal
from _struct import Struct
from _collections import deque  # builtin on 3.x; list.pop(0) moved every queued call
if sys.version_info >= (3, 12):     # a miss costs a walk of sys.path (~0.1 ms)
    from _sha2 import sha256 as _sha256
else:
    from _sha256 import sha256 as _sha256

PY3 = sys.version_info[0] >= 3
if PY3:
    import _thread as thread

    from _io import BytesIO
    from _operator import _compare_digest
    text_type = str
else:
    import thread
    import imp as _imp          # builtin on 2.7
    from cStringIO import StringIO as BytesIO
    from operator import _compare_digest
    text_type = unicode
    # 2.7's str.decode and unicode.encode look their codec up, importing encodings.*
    # the first time, under the import lock: on the broker thread (a codec's $bytes, a
    # module answer's names), while the main thread held that lock waiting for that
    # answer, it deadlocked the context. Looked up here, on the main thread: cached.
    u"".encode("ascii")
    u"".encode("utf-8")

HELLO = 1
CALL = 2
LOG = 3
SHUTDOWN = 4
GET_MODULE = 5
LOAD_MODULE = 6
CANCEL = 7
CHANNEL_OPEN = 8
REPLIES = 9
CALLS = 10

IN_FD = 100
OUT_FD = 101
_HDR = Struct(">IIIII")
_SEQ = Struct(">Q")
_RHDR = Struct(">II")   # a reply in REPLIES, a call in CALLS: its handle, its length
_LE32 = Struct("<I")
_channels = {}          # handle -> Channel (payload/channels.py)
_SLICE = 1 << 20        # large frames are hashed and written in slices of this size
_BIG = 1 << 18          # frames above this use OpenSSL's faster sha256, if present


class CallCancelled(BaseException):
    """Raised in a call the master cancelled (a BaseException: `except Exception` in
    the function does not swallow it)."""


CallCancelled.__module__ = "econtext"


class CallError(Exception):
    """A failed call: (type, message, traceback), all text."""

    def __reduce__(self):
        return (CallError, tuple(self.args))

    def __str__(self):
        return "%s: %s" % self.args[:2]


def _core_code():
    """This core's code object as the loader compiled it (payload/loader.py keeps it
    as _ec_code), marshalled, after the interpreter's 4-byte bytecode magic: the
    master's bytecode cache for this interpreter binary (docs/protocol.md 1)."""
    import marshal
    magic = _imp.get_magic() if not PY3 else \
        sys.modules["_frozen_importlib_external"].MAGIC_NUMBER
    return magic + marshal.dumps(globals()["_ec_code"])


def _boot_info():
    """What the master needs to start this interpreter itself, without the first
    stage (a direct boot, docs/protocol.md 1): EC_BOOT's executable and sys.path as
    the first stage wrote them, and the PYTHONHOME it set (or None). None when this
    context was itself started directly."""
    if _boot is None or not _boot[0]:
        return None
    return _text(repr([_boot[1], _boot[2]])[1:-1]), _boot_home


CallError.__module__ = "econtext"
class _Module(type(sys)):
    """The econtext module: the channel and transfer names come with _lazy()."""

    def __getattr__(self, name):
        # Any name but a dunder (what importers and inspect probe for) may be one of
        # the lazy code's: no list to keep in step with channels.py and transfer.py.
        missing = "module 'econtext' has no attribute %r" % (name,)
        if _lazy_done or name[:2] == "__":
            raise AttributeError(missing)
        _lazy()
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(missing)


_lazy_lock = thread.allocate_lock()
_lazy_done = []


def _lazy():
    """Compile and run the channel and file transfer code (payload/channels.py and
    transfer.py, carried as the text _LAZY_SOURCE: build-aux/mkpayload.py) in these
    globals, once, when first needed: a channel opened, econtext.Channel or a transfer
    function asked for. Compiling it costs a few ms that a context which never needs it
    does not pay at boot. Imports nothing: the broker thread may call it."""
    if not _lazy_done:
        with _lazy_lock:
            if not _lazy_done:
                code = compile(_LAZY_SOURCE, "<econtext channels, transfer>", "exec")
                exec(code, globals())
                _lazy_done.append(1)


_econtext = _Module("econtext")
_econtext.CallError = CallError
_econtext.CallCancelled = CallCancelled
_econtext.core_code = _core_code
_econtext.boot_info = _boot_info
sys.modules["econtext"] = _econtext


def _text(s):
    if isinstance(s, text_type):
        return s
    if isinstance(s, bytes):
        return s.decode("utf-8", "replace")
    try:
        return text_type(s)
    except Exception:
        pass
    try:
        return str(s).decode("utf-8", "replace")
    except Exception:
        return u"<unprintable %s>" % type(s).__name__


# ---- the codec --------------------------------------------------------------------
# The codec's context side is not in this file: the master appends the Python source
# its codec plugin gives (ec_codec_ops.remote_source; plugins/pickle/pickle_remote.py,
# plugins/json/json_remote.py) after the core, compiled with it (and kept with it in
# the bytecode cache). It runs in these globals and defines dumps(obj) -> bytes, which
# raises on a value it cannot carry as it is (_dumps_carried then converts the value,
# payload/values.py), and loads(data) -> the value; it may replace _bytes_parts.


def _loads_call(data):
    """A CALL's payload, decoded on the main thread (a codec may do it faster)."""
    return loads(data)


def _bytes_parts(obj):
    """A large bytes result as the parts of its encoding, sent without the copy that
    dumps() makes; None when the codec has no such form (docs/plugin-guide.md)."""
    return None


# ---- frames -----------------------------------------------------------------------
_cfg = {}
_keyed = {}
_wlock = thread.allocate_lock()
_oseq = [0]
_dead = []


def _keyed_state(big):
    """Pre-keyed HMAC-SHA256 (inner, outer) states; .copy() per frame."""
    st = _keyed.get(big)
    if st is None:
        ctor = _sha256
        if big:
            try:
                from _hashlib import openssl_sha256 as ctor
            except ImportError:
                pass
        key = bytearray(_cfg["key"].ljust(64, b"\0"))
        st = _keyed[big] = (ctor(bytes(bytearray(b ^ 0x36 for b in key))),
                            ctor(bytes(bytearray(b ^ 0x5c for b in key))))
    return st


def _chain_new():
    """A content chain (docs/protocol.md 2): a sha256, OpenSSL's where there is one."""
    ctor = _keyed.get("chain")
    if ctor is None:
        ctor = _sha256
        try:
            from _hashlib import openssl_sha256 as ctor
        except ImportError:
            pass
        _keyed["chain"] = ctor
    return ctor()


def _fast_mac():
    """Small frames too are hashed with OpenSSL's sha256 from now on (a third less
    time per frame than the builtin one); not at boot, where importing _hashlib would
    cost every context its load time. Called by the main thread once calls come in
    numbers, never by the broker thread (which must not import: docs/protocol.md 3)."""
    _keyed[False] = _keyed_state(True)


# Replies held back (docs/protocol.md, "Frames"): while _HOLD_QUEUE calls or more wait
# in the queue behind the one that ran, the main thread appends its reply's bytes here
# instead of writing them, and writes them all with the first frame it does not hold
# (fewer calls left: the master refills the queue while those run), in one write(2):
# fewer system calls on both sides, and the master reads many replies at once. A held
# reply never waits behind a long call: the broker thread writes what is held once it
# has been held for _HOLD_S, and every other writer writes it first (the frames'
# sequence numbers stay in order). Held replies go as one frame, REPLIES
# (docs/protocol.md 3): one header and MAC for many, on both sides.
_held = []              # whole frames, with their MACs; under _wlock
_rb = []                # the REPLIES frame being filled: its sequence number, then each
                        # reply's _RHDR and bytes; its place is _held's last (None)
_hold = [False]         # the main thread holds its frames: more calls are queued
_batch = []             # a channel's values in a burst, not yet framed (payload/channels.py
                        # Channel.send): the handle, then each value's length and bytes;
                        # under _wlock, framed as one (_frame_batch) before any other frame
_HOLD_MAX = 64          # frames held at most, of 4 KiB at most each
_HOLD_QUEUE = 3         # calls still queued for the main thread to hold its reply
_HOLD_S = 0.002         # the broker writes held frames this long after they were held
_bsleep = [False]       # the broker waits in select without a timeout (under _qlock)
_bwake = []             # [read fd, write fd]: wakes the broker to time a hold
_inq = []               # a layer's own input, in place of IN_FD once what IN_FD holds is
                        # read: [fd to watch, read(size) (None: nothing yet), pending()]
_clock = []             # [the monotonic clock, when the hold began]


def _flush_held():
    """Write the held frames (_wlock held)."""
    if _batch:
        _frame_batch()
    if _rb:
        _close_rb()
    if _held:
        data = b"".join(_held)
        del _held[:]
        _write(data)


def _write(data):
    view = memoryview(data)
    while view:
        try:
            view = view[posix.write(OUT_FD, view):]
        except OSError as e:
            if e.errno == errno.EAGAIN:
                select.select([], [OUT_FD], [])
            elif e.errno != errno.EINTR:
                raise


def send_raw(handle, payload, reply_to=0, prefix=b""):
    """Write one frame to the master. Serialised by _wlock; a write error ends
    the context."""
    _nocancel()     # half a frame would corrupt the stream
    try:
        _send_nc(handle, payload, reply_to, prefix)
    finally:
        _cancel_ok()


def _send_nc(handle, payload, reply_to=0, prefix=b"", main=False, chain=None):
    """send_raw, inside the caller's _nocancel() region."""
    with _wlock:
        if _batch:
            _frame_batch()
        _framed(handle, payload, reply_to, prefix, main, chain)


def _close_rb():
    """The REPLIES frame takes its place in _held (_wlock held)."""
    seq = _rb[0]
    _rb[0] = b""
    _held[-1] = _mac_frame(REPLIES, b"".join(_rb), 0, seq)
    del _rb[:]


def _mac_frame(handle, payload, reply_to, seq):
    """A small frame: header, payload, MAC."""
    data = _HDR.pack(0, _cfg["context_id"], handle, reply_to, len(payload)) + payload
    inner, outer = _keyed.get(False) or _keyed_state(False)
    h = inner.copy()
    h.update(b"C" + _SEQ.pack(seq) + data)
    o = outer.copy()
    o.update(h.digest())
    return data + o.digest()


def _reply(reply_to, data):
    """A call's reply, from the main thread: while it holds, into the REPLIES frame."""
    with _wlock:
        if _batch:
            _frame_batch()
        # 64 replies under max_message / 128 each: the frame stays under max_message
        if not _hold[0] or _dead or type(data) is not bytes or len(data) >= 4096 or \
                len(data) >= _cfg["max_message"] >> 7:
            return _framed(reply_to, data, 0, b"", True)
        try:
            if not _rb:
                if len(_held) >= _HOLD_MAX:
                    _flush_held()
                _rb.append(_oseq[0])
                _oseq[0] += 1
                _held.append(None)
                if len(_held) == 1:
                    _start_hold()
            _rb.append(_RHDR.pack(reply_to, len(data)))
            _rb.append(data)
            if len(_rb) > 2 * _HOLD_MAX:
                _flush_held()
        except Exception:
            _dead.append(1)
            _exit_now(1)


def _framed(handle, payload, reply_to=0, prefix=b"", main=False, chain=None):
    """A frame, held or written (_wlock held); main: on the main thread, known.
    chain: the payload is content (docs/protocol.md 2), hashed into chain, and the MAC
    covers the chain's digest instead of the bytes."""
    if type(payload) is tuple:      # parts of one payload (see _bytes_parts)
        parts = payload
        size = sum(len(x) for x in parts)
    else:
        parts = (payload,)
        size = len(payload)
    if _dead:
        return
    try:
        if _rb:
            _close_rb()
        seq = _oseq[0]
        _oseq[0] = seq + 1
        if size < 65536 and chain is None:
            # one part: that part, no copy
            _held.append(prefix + _mac_frame(handle, b"".join(parts), reply_to, seq))
            if _hold[0] and len(_held) <= _HOLD_MAX and size < 4096 and \
                    (main or thread.get_ident() == _main_ident[0]):
                if len(_held) == 1:
                    _start_hold()
                return
            _flush_held()
        else:
            # Hash and write in slices, so that the first bytes leave while the
            # rest is still being hashed (the MAC comes last on the wire anyway).
            hdr = _HDR.pack(0, _cfg["context_id"], handle, reply_to, size)
            inner, outer = _keyed_state(size > _BIG and chain is None)
            h = inner.copy()
            h.update(b"C" + _SEQ.pack(seq) + hdr)
            _flush_held()
            _write(prefix + hdr)
            if chain is None:
                _write_hashed(h, parts)
            else:
                _write_hashed(chain, parts)
                h.update(chain.copy().digest())
            o = outer.copy()
            o.update(h.digest())
            _write(o.digest())
    except Exception:
        _dead.append(1)
        _exit_now(1)


def _write_hashed(h, parts):
    """Write parts in slices, each hashed into h first: the first bytes leave while
    the rest is still being hashed."""
    for part in parts:
        view = memoryview(part)
        for i in range(0, len(view), _SLICE):
            piece = view[i:i + _SLICE]
            h.update(piece)
            _write(piece)


def send(handle, obj, reply_to=0):
    send_raw(handle, dumps(obj), reply_to)


# ---- the main thread: calls, one at a time ----------------------------------------
# The main thread sleeps in a read(2) of a pipe and the broker thread wakes it with a
# write(2) of one byte. Both calls drop the GIL around the system call, so the main
# thread wakes to a free GIL: a lock's release() would wake it while the broker still
# holds the GIL, and it would wake a second time when the broker next blocks (two
# context switches more per call when both threads share a CPU).
_queue = deque()
_qlock = thread.allocate_lock()
_sleeping = [False]
_wake = []              # [read fd, write fd], made by _ec_main


def _put(items):
    """Queue calls for the main thread: those of one read at once (one lock, one wake)."""
    with _qlock:
        _queue.extend(items)
        w = _sleeping[0]
        _sleeping[0] = False
    if w:
        posix.write(_wake[1], b"x")


def _start_hold(now=None):
    """A hold begins (now): the broker thread will write what is held within _HOLD_S,
    whatever the main thread does next (woken if it waits without a timeout). Main
    thread, _wlock held; it may import, the broker thread must not."""
    if not _clock:
        import time
        _clock[:] = [getattr(time, "monotonic", time.time), 0]
    _clock[1] = now or _clock[0]()
    with _qlock:
        w = _bsleep[0]
        _bsleep[0] = False
    if w:
        posix.write(_bwake[1], b"x")


def _get():
    while True:
        with _qlock:
            if _queue:
                # Hold while _HOLD_QUEUE calls or more remain after this one: the
                # master gets the replies while a few calls still keep us busy,
                # and refills the queue before it drains.
                _hold[0] = len(_queue) > _HOLD_QUEUE
                item = _queue.popleft()
                _running[0] = item[0]   # from here a CANCEL finds it (_on_cancel)
                return item
            _hold[0] = False
            _sleeping[0] = True
        if _held:
            with _wlock:
                _flush_held()
        try:
            posix.read(_wake[0], 1)
        except OSError as e:
            if e.errno != errno.EINTR:
                raise


def _import(name):
    if not PY3:
        name = str(name)
    __import__(name)
    return sys.modules[name]


_resolved = {}          # (module, qualname) -> (the module object, the function)


def resolve(module, qualname):
    """The function called qualname in module (imported if need be); a dotted module
    name may end with a class. A plain name is cached while sys.modules holds the same
    module and the module's attribute is the same object: the same answer, faster."""
    hit = _resolved.get((module, qualname))
    if hit is not None and sys.modules.get(module) is hit[0] and \
            hit[0].__dict__.get(qualname) is hit[1]:
        return hit[1]
    fn = _resolve(module, qualname)
    m = sys.modules.get(module)
    if "." not in qualname and getattr(m, "__dict__", {}).get(qualname) is fn:
        if len(_resolved) > 1024:
            _resolved.clear()
        _resolved[module, qualname] = (m, fn)
    return fn


def _resolve(module, qualname):
    try:
        obj = _import(module)
    except ImportError:
        e = sys.exc_info()[1]
        head, _, tail = module.rpartition(".")
        if not head:
            raise
        if PY3:
            if getattr(e, "name", None) != module:
                raise
        elif head not in sys.modules or not str(e).endswith(str(tail)):
            raise
        obj = _import(head)
        qualname = tail + "." + qualname
    for part in qualname.split("."):
        obj = getattr(obj, part if PY3 else str(part))
    return obj


def call_error(exc_info):
    import traceback
    t, v, tb = exc_info
    try:
        name = "%s.%s" % (t.__module__, getattr(t, "__qualname__", t.__name__))
        tbtext = "".join(traceback.format_exception(t, v, tb))
    finally:
        tb = exc_info = None
    return CallError(_text(name), _text(v), _text(tbtext))


# Cancel (docs/protocol.md, CANCEL): the reply handle of the call running on the main
# thread, whether the function itself runs (a cancel raises only then, never while the
# reply is written), and the handle the master asked to cancel.
_running = [0]
_in_call = [False]
_cancel = [0]
_main_ident = [None]


_defer = [0, False]     # depth of the main thread's no-cancel regions; a cancel came


def _nocancel():
    """On the main thread, a cancel now waits for _cancel_ok(): a region that holds a
    lock or writes a frame must not be left half done by CallCancelled."""
    if thread.get_ident() == _main_ident[0]:
        _defer[0] += 1


def _cancel_ok():
    """The end of a _nocancel() region: a cancel that came meanwhile raises now."""
    if thread.get_ident() == _main_ident[0]:
        _defer[0] -= 1
        if not _defer[0] and _defer[1]:
            _defer[1] = False
            _on_cancel_signal(None, None)


_cancel_seen = [0]      # the cancel the main thread acted on (raised or deferred)


def _on_cancel_signal(signum, frame):
    if _in_call[0] and _cancel[0] and _cancel[0] == _running[0]:
        _cancel_seen[0] = _cancel[0]
        if _defer[0]:           # half a frame would corrupt the stream: after it
            _defer[1] = True
            return
        _in_call[0] = False
        raise CallCancelled("cancelled by the master")


def _interrupt_main():
    """Deliver the cancel signal to the main thread: it interrupts a sleep or a blocking
    read there (the handler raises) as well as Python code."""
    if hasattr(_signal, "pthread_kill"):
        try:
            _signal.pthread_kill(_main_ident[0], _signal.SIGURG)
            return
        except Exception:
            pass
    posix.kill(posix.getpid(), _signal.SIGURG)   # Linux gives it to the main thread


def _cancelled_error(msg):
    return CallError(u"econtext.CallCancelled", _text(msg), u"")


def _run_call(reply_to, payload):
    _running[0] = reply_to
    try:
        try:
            module, qualname, args, kwargs = _loads_call(payload)
            fn = resolve(module, qualname)
            if kwargs and not PY3:
                kwargs = dict((k.encode("utf-8") if type(k) is unicode else k, v)
                              for k, v in kwargs.items())
            _in_call[0] = True
            if _cancel[0] == reply_to:  # cancelled before it ran: its signal did nothing
                _cancel_seen[0] = reply_to
                _in_call[0] = False
                raise CallCancelled("cancelled by the master")
            result = fn(*args, **kwargs) if kwargs else fn(*args)
        finally:
            _in_call[0] = False
    except:
        _in_call[0] = False
        if _cancel[0] == reply_to:      # whatever the function raised on its way out
            result = _cancelled_error("the call was cancelled while it ran")
        else:
            result = call_error(sys.exc_info())
        if not PY3:
            sys.exc_clear()
    _running[0] = 0
    if _call_channels:              # payload/channels.py
        _close_call_channels()
    try:
        data = _bytes_parts(result) or dumps(result)
    except Exception:
        data = _dumps_carried(result)   # payload/values.py
    result = None
    if _stdio:
        _drain_before_reply()
    # No _nocancel() region: with _running 0 the cancel signal's handler raises nothing.
    _reply(reply_to, data)


def _drain_before_reply():
    """Forward the complete lines the call left in the stdout/stderr pipes (its own
    prints, a child's output such as os.system's) before its reply: the master logs
    them before the call returns. Whatever the broker thread read is sent already
    once the lock is ours."""
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    with _stdio_lock:
        if not _stdio_poll or _stdio_poll[0].poll(0):
            _drain_stdio(False)


def _main_loop():
    try:
        if not PY3:
            # 2.7's posixpath imports os before it defines curdir, which os imports
            # from it: importing posixpath first fails without site, which imports os.
            # Here, while the master reads HELLO and sends the first call.
            import os
        n = 0
        while True:
            item = _get()
            _run_call(*item)
            item = None
            n += 1
            if n == 64:
                _fast_mac()     # no OpenSSL: the builtin sha256 it stays
    except BaseException:
        e = sys.exc_info()[1]
        shutdown(1, "main thread failed: %s: %s" % (type(e).__name__, e))


# ---- the broker thread: reads fd 100 and the stdout/stderr pipes ------------------
_stdio = {}             # read fd -> [logger name, levelno, partial line]
_broker_ident = [None]
# held while a thread reads a stdio pipe and forwards what it read: the main thread
# drains the pipes before a call's reply, so a call's output reaches the master first
_stdio_lock = thread.allocate_lock()
_stdio_poll = []        # a poll object over the pipes: the cheap look before a reply


def _forward(fd, data, final=False):
    st = _stdio[fd]
    lines = (st[2] + data).split(b"\n")
    st[2] = lines.pop()
    if final and st[2] or len(st[2]) > 65536:
        lines.append(st[2])
        st[2] = b""
    for line in lines:
        send(LOG, (st[0], st[1], line.decode("utf-8", "replace")))


def _drain_stdio(final=True):
    """Forward whatever sits in the stdout/stderr pipes, without waiting; final: the
    last partial lines too."""
    live = list(_stdio)
    for _ in range(64):
        try:
            ready = live and select.select(live, [], [], 0)[0]
        except Exception:
            break
        if not ready:
            break
        for fd in ready:
            data = posix.read(fd, 65536)
            if data:
                _forward(fd, data)
            else:
                live.remove(fd)     # every writer closed it
    for fd in _stdio:
        _forward(fd, b"", final)


def shutdown(code=0, reason=None, drain=True):
    """End the context now, even if a call is running on the main thread. With
    drain, first send `reason` and what is left in the stdout/stderr pipes; a
    SIGALRM ends the process if the master does not read that within 2 s."""
    try:
        if drain and not _dead:
            _signal.alarm(2)
            with _wlock:            # what the main thread held back
                _flush_held()
            if reason:
                send(LOG, (u"econtext", 40 if code else 20,
                           _text("context %s: %s" % (_cfg.get("name"), reason))))
            _drain_stdio()
    finally:
        _exit_now(code)


_at_exit = []


def _exit_now(code):
    """os._exit, after the hooks that undo what must not outlive the context (a
    transfer's temporary file, payload/transfer.py)."""
    for fn in _at_exit:
        try:
            fn()
        except BaseException:
            pass
    posix._exit(code)


def _on_call(handle, reply_to, payload):
    _put(((reply_to, payload),))


def _on_calls(handle, reply_to, payload):
    """CALLS: calls the master queued together, each its reply handle and length, then
    its payload."""
    items = []
    pos = 0
    while pos < len(payload):
        r, n = _RHDR.unpack_from(payload, pos)
        pos += 8 + n
        items.append((r, payload[pos - n:pos]))
    if pos != len(payload) or not items:
        shutdown(1, "malformed CALLS frame from the master")
    _put(items)


def _on_shutdown(handle, reply_to, payload):
    shutdown(0)


def _on_cancel(handle, reply_to, payload):
    """CANCEL(reply handle), on the broker thread: a queued call is dropped and answered
    at once; the running one is interrupted; a finished one is left alone."""
    h = loads(payload)
    with _qlock:
        for i, item in enumerate(_queue):
            if item[0] == h:
                del _queue[i]
                break
        else:
            item = None
            if _running[0] == h:
                _cancel[0] = h
    if item is not None:
        send_raw(h, dumps(_cancelled_error("the call was cancelled before it started")))
    elif _cancel[0] == h:
        _interrupt_main()


_call_channels = []     # the channels the running call was passed (payload/channels.py)


def _on_channel_open_lazy(handle, reply_to, payload):
    _lazy()     # replaces handlers[CHANNEL_OPEN]
    handlers[CHANNEL_OPEN](handle, reply_to, payload)


def _channel_arg(h):
    _lazy()     # replaces _channel_arg
    return _channel_arg(h)


# handle -> function(handle, reply_to, payload), called on the broker thread. The
# module forwarder adds LOAD_MODULE here, channels.py CHANNEL_OPEN.
handlers = {CALL: _on_call, CALLS: _on_calls, SHUTDOWN: _on_shutdown, CANCEL: _on_cancel,
            CHANNEL_OPEN: _on_channel_open_lazy}


class _Reader(object):
    """Frames from the master, parsed in place: the frames of one read are sliced out
    of it at their offsets (no copy of what follows each frame); only a frame split
    across reads is joined, once, when its last byte came."""

    def __init__(self):
        self.chunks = []        # the reads that begin an incomplete frame
        self.have = 0
        self.need = 20          # bytes that complete what is in chunks
        self.seq = 0
        self.last = 0           # the last frame's size: the next read's (a file's chunks
                                # come whole, one read each, parsed in place)

    def feed(self, data):
        if self.chunks:
            self.chunks.append(data)
            self.have += len(data)
            if self.have < self.need:
                return
            data = b"".join(self.chunks)
            self.chunks = []
        n = len(data)
        pos = 0
        view = None
        limit = _cfg["max_message"]
        calls = []      # CALL frames of this read, queued together (before any other frame)
        while n - pos >= 20:
            hdr = _HDR.unpack_from(data, pos)
            size = hdr[4]
            if size > limit:
                shutdown(1, "frame of %d bytes exceeds max_message" % size)
            body = pos + 20 + size
            end = body + 32
            self.last = size + 52
            if end > n:
                break
            b = pos + 20
            chained = None
            content = hdr[3] == 5
            if content:
                # Content (docs/protocol.md 2): raw bytes on a channel, hashed into its
                # chain; the MAC covers the chain's digest, not the bytes.
                ch = _channels.get(hdr[2])
                if ch is None:
                    shutdown(1, "content on handle %d, which is no channel" % hdr[2])
                into = ch._rx_chain
                if into is None:
                    into = ch._rx_chain = _chain_new()
                lo = b
            else:
                inner, outer = _keyed.get(size > _BIG) or _keyed_state(size > _BIG)
                into = inner.copy()
                into.update(b"M" + _SEQ.pack(self.seq))
                lo = pos
            if size < 4096:
                into.update(data[lo:body])
            else:
                if view is None:
                    view = memoryview(data)
                into.update(view[lo:body])
            if content:
                chained = into.copy().digest()
                inner, outer = _keyed.get(False) or _keyed_state(False)
                h = inner.copy()
                h.update(b"M" + _SEQ.pack(self.seq) + data[pos:b] + chained)
            else:
                h = into
            o = outer.copy()
            o.update(h.digest())
            if not _compare_digest(data[body:end], o.digest()):
                shutdown(1, "bad MAC on frame %d from the master" % self.seq)
            self.seq += 1
            fn = handlers.get(hdr[2])
            if fn is _on_call:
                calls.append((hdr[3], data[b:body]))
                pos = end
                continue
            if calls:
                _put(calls)
                calls = []
            if fn is None:
                shutdown(1, "frame for unknown handle %d" % hdr[2])
            if chained is not None:
                fn(hdr[2], 5, (size, data[b:body], chained))
            elif size > 4096 and hdr[3] == 1 and hdr[2] in _channels and \
                    data[b:b + 3] == b"\x80\x02T" and data[body - 1:body] == b"." and \
                    _LE32.unpack_from(data, b + 3)[0] == size - 8:
                # A channel's bytes (a file's chunk): the master pickles them as PROTO 2,
                # BINSTRING, bytes, STOP; taken as they are, in one copy (kind 5).
                fn(hdr[2], 5, (size, data[b + 7:body - 1]))
            else:
                fn(hdr[2], hdr[3], data[b:body])
            pos = end
        if calls:
            _put(calls)
        view = None
        if pos < n:
            rest = data[pos:] if pos else data
            self.chunks = [rest]
            self.have = len(rest)
            self.need = 20
            if len(rest) >= 20:
                self.need = 52 + _HDR.unpack_from(rest, 0)[4]
        else:
            self.have = 0
            self.need = 20


def _broker():
    _broker_ident[0] = thread.get_ident()
    try:
        reader = _Reader()
        fds = [IN_FD, _bwake[0]] + list(_stdio)
        src = IN_FD     # the master's bytes come from here (_inq's fd once it is asked)
        while True:
            if _inq and src == IN_FD and not select.select([IN_FD], [], [], 0)[0]:
                src = fds[0] = _inq[0]  # the layer wrote IN_FD's last byte before it asked
            # A cancel's signal that came just before the call blocked (between the
            # interpreter's last look at its signals and the system call: a sleep,
            # a read) waits for that call to end: sent again every 50 ms until the
            # main thread acted on it.
            pending = _cancel[0] and _cancel[0] == _running[0] and _cancel_seen[0] != _cancel[0]
            timeout = None
            with _qlock:
                if (_held or _batch) and _clock:    # time the hold
                    timeout = _clock[1] + _HOLD_S - _clock[0]()
                _bsleep[0] = timeout is None
            if timeout is not None and timeout <= 0:
                with _wlock:            # held for _HOLD_S: write it
                    _flush_held()
                continue
            if pending:
                timeout = 0.05 if timeout is None else min(timeout, 0.05)
            try:
                ready = [src] if src != IN_FD and _inq[2]() else \
                    select.select(fds, [], [], timeout)[0]
            except (OSError, select.error):
                if sys.exc_info()[1].args[0] == errno.EINTR:
                    continue
                raise
            if pending and _cancel[0] == _running[0] and _cancel_seen[0] != _cancel[0]:
                _interrupt_main()
            for fd in ready:
                if fd == _bwake[0]:
                    posix.read(fd, 64)
                    continue
                size = 65536
                if fd == src:
                    size = min(max(size, reader.need - reader.have, reader.last), 1 << 20)
                else:
                    # read and forward under the lock, unless the main thread took
                    # what select() saw (a reply's drain): then nothing waits there
                    _stdio_lock.acquire()
                    if not select.select([fd], [], [], 0)[0]:
                        _stdio_lock.release()
                        continue
                try:
                    data = _inq[1](size) if fd == src != IN_FD else posix.read(fd, size)
                except OSError as e:
                    if fd != src:
                        _stdio_lock.release()
                    if e.errno in (errno.EINTR, errno.EAGAIN):
                        continue
                    raise
                if data is None:
                    continue
                if fd != src:
                    if data:
                        _forward(fd, data)
                    else:
                        fds.remove(fd)      # every writer closed it
                    _stdio_lock.release()
                elif data:
                    reader.feed(data)
                else:
                    shutdown(0, drain=False)
    except BaseException:
        e = sys.exc_info()[1]
        shutdown(1, "broker failed: %s: %s" % (type(e).__name__, e))


# ---- logging, installed when something imports it ---------------------------------
def _install_logging(logging):
    emitting = set()

    class LogHandler(logging.Handler):
        def emit(self, rec):
            me = thread.get_ident()
            if me == _broker_ident[0] or me in emitting:
                return
            emitting.add(me)
            try:
                send(LOG, (_text(rec.name), rec.levelno, _text(self.format(rec))))
            except Exception:
                self.handleError(rec)
            finally:
                emitting.discard(me)

    level = _cfg["log_level"]
    handler = LogHandler(level)
    root = logging.getLogger()
    root.setLevel(level)
    root.addHandler(handler)


class _LoggingHook(object):
    """sys.meta_path entry that installs the LOG handler right after `logging` is
    executed, then removes itself. Importing logging eagerly would cost several
    milliseconds of start-up in every context."""

    def _done(self):
        if self in sys.meta_path:
            sys.meta_path.remove(self)

    def find_spec(self, name, path=None, target=None):
        # 3.4+: find the real spec and give its loader instance an exec_module
        # that installs the handler. Stays in sys.meta_path until that runs, since
        # importlib.util.find_spec() may ask without importing.
        if name != "logging":
            return None
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            spec = finder is not self and find_spec and find_spec(name, path, target)
            if spec:
                break
        else:
            return None
        loader = spec.loader
        orig = getattr(loader, "exec_module", None)
        if orig is None or isinstance(loader, type):
            return spec         # not hookable without side effects: no forwarding
        hook = self

        def exec_module(module):
            try:
                del loader.exec_module
            except AttributeError:
                pass
            orig(module)
            if module.__name__ == "logging":
                hook._done()
                _install_logging(module)
        loader.exec_module = exec_module
        return spec

    def find_module(self, name, path=None):
        if name == "logging" and path is None:
            return self

    def load_module(self, name):
        self._done()
        __import__(name)
        module = sys.modules[name]
        _install_logging(module)
        return module


# ---- module forwarder (docs/protocol.md section 3: GET_MODULE, LOAD_MODULE) --------
class _PathEntry(object):
    """What sys.path_hooks makes of a forwarded package's __path__ entry: it finds
    nothing (the importer does, after the interpreter), but lists the children for
    pkgutil.iter_modules and walk_packages."""

    def __init__(self, kids):
        self.kids = kids

    def find_spec(self, *args):
        return None
    find_module = find_spec

    def iter_modules(self, prefix=""):
        return [(prefix + k, self.kids[k]) for k in sorted(self.kids)]


class _Importer(object):
    """sys.meta_path entry that imports the master's modules. It asks only for names
    the master offers (its top-level names from the config, then the children of the
    packages it sent), and only when the interpreter cannot import them itself: on
    3.x it sits at the end of meta_path, on 2.7 it probes with imp.find_module. The
    main thread blocks on a lock that the broker thread releases on LOAD_MODULE."""

    def __init__(self, top):
        self.top = top              # frozenset of top-level names, None: any name
        self.mods = {}              # name -> (filename, {child: ispkg}, zsource, error)
        self.paths = {}             # package __path__ entry -> name
        self.lock = thread.allocate_lock()
        self.waits = {}
        self.gets = 0               # GET_MODULE round trips

    def stats(self):
        return {u"gets": self.gets, u"modules": len(self.mods)}

    def _offered(self, name):
        head, _, tail = name.rpartition(".")
        if not head:
            return self.top is None or name in self.top
        e = self.mods.get(head)
        return bool(e and e[1] and tail in e[1] and
                    getattr(sys.modules.get(head), "__loader__", None) is self)

    def _get(self, name):
        e = self.mods.get(name)
        if e is None:
            with self.lock:
                e = self.mods.get(name)
                w = self.waits.get(name)
                ask = e is None and w is None
                if ask:
                    w = self.waits[name] = thread.allocate_lock()
                    w.acquire()
            if e is None:
                if ask:
                    self.gets += 1
                    # The import machinery holds the global import lock while we wait
                    # (2.7 and 3.x, around find_spec): the broker thread must not need
                    # an import to verify a big reply, so load the big-frame hash now.
                    _keyed_state(True)
                    send(GET_MODULE, _text(name))
                w.acquire()
                w.release()
                e = self.mods[name]
        return e

    def _check(self, name, e):
        if e[3]:
            raise ImportError("cannot forward %s: %s" % (name, e[3]))
        return e[0]

    def on_load(self, handle, reply_to, payload):
        name, entries = loads(payload)
        with self.lock:
            for e in entries:
                n, f = e[0], e[1]
                if not PY3:
                    n = str(n)
                    f = f and f.encode("utf-8")
                k = e[2]
                if k is not None:       # children; a package's name ends with '/'
                    k = dict(((c if PY3 else c.encode("utf-8")).rstrip("/"), c[-1:] == "/")
                             for c in k)
                if n not in self.mods:
                    self.mods[n] = (f and "master:" + f, k, e[3], e[4])
            done = [self.waits.pop(n) for n in list(self.waits) if n in self.mods]
        for w in done:
            w.release()

    def get_source(self, name):
        import zlib
        src = zlib.decompress(self.mods[name][2])
        if PY3:                         # PEP 263 (tokenize: loaded by linecache anyway)
            import tokenize
            try:
                enc = tokenize.detect_encoding(BytesIO(src).readline)[0]
            except SyntaxError:
                enc = "utf-8"
            src = src.decode(enc, "replace")
        return src

    def hook(self, entry):
        # sys.path_hooks[0]: only our own __path__ entries.
        if entry not in self.paths:
            raise ImportError(entry)
        return _PathEntry(self.mods[self.paths[entry]][1])

    def _entry(self, name, e):
        p = e[0].rpartition("/")[0]     # 'master:' + the package's directory
        self.paths[p] = name
        return p

    def get_filename(self, name):
        return self.mods[name][0]

    def is_package(self, name):
        return self.mods[name][1] is not None

    def find_spec(self, name, path=None, target=None):
        e = self._offered(name) and self._get(name)
        if e and self._check(name, e):
            spec = sys.modules["_frozen_importlib"].ModuleSpec(
                name, self, origin=e[0], is_package=e[1] is not None)
            spec.has_location = True
            if e[1] is not None:
                spec.submodule_search_locations.append(self._entry(name, e))
            return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        import zlib
        name = module.__name__
        e = self.mods[name]
        try:
            code = compile(zlib.decompress(e[2]), e[0], "exec", 0, True)
        except (SyntaxError, ValueError, TypeError):
            msg = "cannot forward %s: %s" % (name, sys.exc_info()[1])
            send(LOG, (u"econtext", 40, _text(msg)))
            raise ImportError(msg)
        exec(code, module.__dict__)

    def find_module(self, name, path=None):
        if self._offered(name):
            import imp
            try:
                f = imp.find_module(name.rpartition(".")[2], path)[0]
            except ImportError:
                e = self._get(name)
                return (e[0] or e[3]) and self
            if f:
                f.close()

    def load_module(self, name):
        e = self.mods[name]
        self._check(name, e)
        m = sys.modules.get(name)
        if m is None:
            m = sys.modules[name] = type(sys)(name)
        m.__file__ = e[0]
        m.__loader__ = self
        m.__package__ = name.rpartition(".")[0]
        if e[1] is not None:
            m.__path__ = [self._entry(name, e)]
            m.__package__ = name
        try:
            self.exec_module(m)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return sys.modules[name]


class _LazySite(object):
    """sys.meta_path entry that runs site (site-packages, .pth files, sitecustomize)
    on the first top-level import the standard library cannot satisfy, then never
    again. Both interpreters of the boot start with -S: site is most of a start-up,
    and a context that only calls into the standard library never needs it. On 3.x
    it sits after the path finder, on 2.7 first (it probes with imp.find_module),
    before the importer in both, so that the remote's own packages win. It stays in
    sys.meta_path: removing it while importlib iterates the list would skip the
    entry after it."""

    done = False
    # Names the standard library tries and misses on POSIX (Windows, Jython, builds
    # without OpenSSL): no reason to run site.
    never = frozenset("nt msvcrt _winapi winreg _winreg _wmi _overlapped org java "
                      "_hashlib _ssl ElementC14N SOCKS _xmlplus _scproxy".split())

    def _run(self, name):
        if not self.done and name not in self.never:
            self.done = True
            import site
            if PY3:
                site.main()     # 2.7 runs it when imported
            return True

    def find_spec(self, name, path=None, target=None):
        if path is None and not self.done and self._run(name):
            return sys.modules["_frozen_importlib_external"].PathFinder.find_spec(name)

    def find_module(self, name, path=None):
        if path is None and not self.done:
            try:
                f = _imp.find_module(name)[0]
            except ImportError:
                self._run(name)
            else:
                if f:
                    f.close()


# ---- start-up ---------------------------------------------------------------------
def _cloexec(fd):
    if PY3:
        posix.set_inheritable(fd, False)
    else:
        import fcntl
        fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.fcntl(fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)


_piped = []     # _wide_pipes ran


def _wide_pipes():
    """The launcher's pipes (fds IN_FD and OUT_FD over ssh and sudo; sockets, left as
    they are, locally and connected back) at 1 MiB, Linux's default most, once, before
    the first file goes through them: at the default 64 KiB, sshd's channel buffer
    fills with what the pipe cannot take and grows by copies into new memory, and a
    transfer over ssh runs at two thirds of the speed (docs/benchmarks.md). Lazy: fcntl
    costs an import, and only transfers gain. Refused (another OS, the user's pipe
    pages used up): left as it was."""
    if _piped or not sys.platform.startswith("linux"):
        return
    _piped.append(True)
    import fcntl
    for fd in (IN_FD, OUT_FD):
        try:
            fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        except (IOError, OSError):
            pass


_unbuffered = bool(_boot and _boot[3])


def _setup_stdio():
    # /dev/null on 0, 1 and 2 first, so that the pipes below never land on them
    # even when the transport started us with some of them closed.
    null = posix.open("/dev/null", posix.O_RDWR)
    for fd in (0, 1, 2):
        posix.dup2(null, fd)
    if null > 2:
        posix.close(null)
    for fd, name, level in ((1, u"stdout", 20), (2, u"stderr", 30)):
        r, w = posix.pipe()
        posix.dup2(w, fd)
        posix.close(w)
        _cloexec(r)
        _stdio[r] = [name, level, b""]
    if hasattr(select, "poll"):
        p = select.poll()
        for r in _stdio:
            p.register(r, select.POLLIN)
        _stdio_poll.append(p)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        f = getattr(sys, name, None)
        if PY3:
            if hasattr(f, "reconfigure"):
                f.reconfigure(line_buffering=True, write_through=_unbuffered)
            else:
                import io
                setattr(sys, name, io.open(fd, "w", 1, closefd=False,
                                           encoding=getattr(f, "encoding", None),
                                           errors=getattr(f, "errors", None)))
        elif name == "stdout":
            fd = posix.dup(1)
            _cloexec(fd)
            sys.stdout = posix.fdopen(fd, "w", 0 if _unbuffered else 1)


# The transport layers' context sides (ec_transport_ops.remote_source), compiled after
# the core, each put its start here under its plugin's name; _ec_main calls it with the
# layer's boot words (config["layers"]) before anything else (plugins/tls/tls_remote.py).
_layer_starts = {}


def _user():
    try:
        import pwd
        return pwd.getpwuid(posix.getuid()).pw_name
    except Exception:
        return posix.environ.get("USER" if not PY3 else b"USER", "?")


def _ec_main(config):
    _cfg.update(config)
    _cfg["key"] = bytes(bytearray(int(config["key"][i:i + 2], 16) for i in range(0, 64, 2)))
    _cfg.setdefault("max_message", 64 << 20)
    _cfg.setdefault("context_id", 1)
    _cfg.setdefault("log_level", 20)
    _cloexec(IN_FD)
    _cloexec(OUT_FD)
    for name, words in (_cfg.get("layers") or {}).items():
        if name in _layer_starts:
            _layer_starts[name](words if isinstance(words, str) else words.decode("ascii"))
    _setup_stdio()
    _wake[:] = posix.pipe()
    _bwake[:] = posix.pipe()
    for fd in _wake + _bwake:
        _cloexec(fd)
    _main_ident[0] = thread.get_ident()
    _signal.signal(_signal.SIGURG, _on_cancel_signal)
    if _boot is not None and _boot[0]:     # 0: a direct boot, no first-stage child
        try:
            posix.waitpid(_boot[0], 0)
        except OSError:
            pass
    if "logging" in sys.modules:
        _install_logging(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, _LoggingHook())
    mods = config.get("modules")
    if mods is not None:
        imp = _econtext.importer = _Importer(None if mods is True else frozenset(mods.split()))
        handlers[LOAD_MODULE] = imp.on_load
        sys.meta_path.insert(len(sys.meta_path) if PY3 else 0, imp)
        sys.path_hooks.insert(0, imp.hook)
    if sys.flags.no_site:
        sys.meta_path.insert(len(sys.meta_path) - (mods is not None) if PY3 else 0,
                             _LazySite())
    hello = {
        u"version": _text("%d.%d.%d" % sys.version_info[:3]),
        u"pid": posix.getpid(),
        u"python": _text(sys.executable),
        u"user": _text(_user()),
        u"host": _text(posix.uname()[1]),
    }
    send_raw(HELLO, dumps(hello), 0, b"ECREADY\n")
    thread.start_new_thread(_broker, ())
    _main_loop()
