# pickle_remote.py: the pickle codec's context side (ec_codec_ops.remote_source). The
# master appends it to the remote core (payload/econtext_core.py), compiled with it, in
# the core's globals: it defines dumps and loads for the protocol's every message, the
# pickle subset plugins/pickle/ decodes (docs/protocol.md section 4), and _bytes_parts,
# a large bytes result written without a copy. Runs unchanged on 2.7 and 3.6 to 3.13.
if PY3:
    def _import_pickle():
        # _pickle only wants functools.partial, but importing functools costs about
        # 3 ms (collections & co.). Lend it a stand-in holding the same C type.
        if "functools" in sys.modules:
            import _pickle
            return _pickle
        import _functools
        stand_in = type(sys)("functools")
        stand_in.partial = _functools.partial
        sys.modules["functools"] = stand_in
        try:
            import _pickle
        except Exception:
            _pickle = None
        finally:
            del sys.modules["functools"]
        if _pickle is None:
            import _pickle
        return _pickle
    pickle = _import_pickle()
else:
    import cPickle as pickle

_LEN32 = Struct("<I")
_CODECS = sys.modules["_codecs"]
_GLOBALS = {
    ("econtext", "CallError"): CallError,
    ("__builtin__", "set"): set,
    ("builtins", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("builtins", "frozenset"): frozenset,
    ("_codecs", "encode"): _CODECS.encode,
    ("__builtin__", "bytes"): bytes,
    ("builtins", "bytes"): bytes,
}


def _find_global(module, name):
    try:
        return _GLOBALS[module, name]
    except KeyError:
        raise pickle.UnpicklingError("refused global %s.%s" % (module, name))


class Unserializable(Exception):
    pass


def _refuse(obj):
    raise Unserializable("%s.%s" % (type(obj).__module__, type(obj).__name__))


def _reduce_call_error(obj):
    return (CallError, tuple(obj.args))


# Exactly these types pickle within the subset the master decodes (section 4), and
# these classes are the only globals written (set/frozenset are pickled by REDUCE).
_NATIVE = frozenset([type(None), bool, int, float, bytes, text_type, tuple, list, dict,
                     set, frozenset, CallError] + ([] if PY3 else [long]))
_CLASSES = (CallError, set, frozenset)      # Named and Tagged added below
_FUNCTION = type(_refuse)


def _check(obj):
    # persistent_id hook: None means "pickle normally"; refuse anything else.
    if type(obj) not in _NATIVE and not (type(obj) in (type, _FUNCTION) and obj in _CLASSES):
        _refuse(obj)


if PY3:
    class _Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            return _find_global(module, name)

    class _Whole(object):
        # The unpickler keeps whatever read(n) returns past n: handed everything at the
        # first read, it makes no call per opcode as it does on a BytesIO (2-4 us more
        # per message).
        __slots__ = ("d",)

        def __init__(self, data):
            self.d = data

        def read(self, n=-1):
            d = self.d
            self.d = b""
            return d
        readline = read

        def readinto(self, b):
            return 0

    def loads(data):
        return _Unpickler(_Whole(data), encoding="bytes").load()

    _cu = []    # the main thread's unpickler of calls and its input, made once

    def _loads_call(data):
        # Making an Unpickler costs more than decoding a call. One serves every call:
        # each message is one pickle, read to its STOP, whose GETs follow its own PUTs
        # (the master's C encoder writes none). A large one is decoded apart (the
        # unpickler keeps its input until the next); after an error, a new one.
        if len(data) > 4096:
            return loads(data)
        if not _cu:
            _cu[:] = [_Whole(b"")]
            _cu.append(_Unpickler(_cu[0], encoding="bytes"))
        _cu[0].d = data
        try:
            return _cu[1].load()
        except BaseException:
            del _cu[:]
            raise

    class _Pickler(pickle.Pickler):
        def reducer_override(self, obj):
            # 3.8+: called for everything not handled natively (exact None, bool,
            # int, float, bytes, str, list, tuple, dict, set, frozenset).
            if type(obj) is _Carried:
                return (obj.fn, obj.args)
            if type(obj) is CallError:
                return _reduce_call_error(obj)
            for c in _CLASSES:
                if obj is c:
                    return NotImplemented   # the globals of _CLASSES, by identity
            _refuse(obj)

    if sys.version_info < (3, 8):
        # No reducer_override: check every object (slower, but only on 3.6/3.7).
        _Pickler.persistent_id = staticmethod(_check)

    _PLAIN = frozenset([type(None), bool, int, float, bytes, str])

    def dumps(obj):
        if type(obj) in _PLAIN:     # never given to reducer_override: the same bytes,
            return pickle.dumps(obj, 3)     # without a Pickler made per value
        f = BytesIO()
        _Pickler(f, 3).dump(obj)
        return f.getvalue()
else:
    def loads(data):
        u = pickle.Unpickler(BytesIO(data))
        u.find_global = _find_global
        return u.load()

    _PLAIN = frozenset([type(None), bool, int, long, float, bytes, unicode])

    def dumps(obj):
        if type(obj) in _PLAIN:     # nothing in it for _check to refuse: the same bytes
            return pickle.dumps(obj, 2)
        f = BytesIO()
        p = pickle.Pickler(f, 2)
        p.persistent_id = _check       # every object: slower, but exact
        p.dump(obj)
        return f.getvalue()


def _bytes_parts(obj):
    """A large bytes result as the parts of its pickle, which Pickler(f, 3) would
    write as PROTO 3, BINBYTES, the bytes, BINPUT 0, STOP: without the copy that
    dumps() makes of it (tens of ms per 16 MiB). None when it does not apply."""
    if PY3 and type(obj) is bytes and _BIG < len(obj) < (1 << 32):
        return (b"\x80\x03B" + _LEN32.pack(len(obj)), obj, b"q\x00.")
    return None


# Named and Tagged (payload/values.py) are the master's globals econtext.Named and
# econtext.Tagged: unpickled from the master, written for values converted by _carry.
for _fn in (Named, Tagged):
    _GLOBALS["econtext", _fn.__name__] = _fn
_CLASSES = _CLASSES + (Named, Tagged)
_NATIVE = _NATIVE | frozenset([_Carried])
