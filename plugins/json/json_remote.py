# json_remote.py: the json codec's context side (ec_codec_ops.remote_source). The
# master appends it to the remote core (payload/econtext_core.py), compiled with it, in
# the core's globals: it defines dumps and loads for the protocol's every message, in
# the form plugins/json/json.c reads (docs/codecs.md). JSON's own types are themselves;
# the rest of the value model is an object of one '$' key: $bytes (base64), $tuple,
# $set, $dict (keys that are not text or start with '$'), $float (nan, inf, -inf),
# $error, $named, $tagged. An integer beyond 64 bits is refused, naming where it sits.
# The C accelerators of the json package (_json) encode and scan without importing
# json itself (and re, which it needs). Runs unchanged on 2.7 and 3.6 to 3.13.
import binascii

try:
    import _json
except ImportError:     # an interpreter built without it: the pure-Python package
    _json = None

_JINT = (-(1 << 63), (1 << 63) - 1)
_INF = float("inf")
_INT_TYPES = (int,) if PY3 else (int, long)


def _jlist(obj):
    return _carry_list(obj, _jv)    # payload/values.py


def _jdict(obj):
    plain = True
    for k in obj:
        if type(k) is not text_type or k[:1] == u"$":
            plain = False
            break
    if plain:
        out = {}
        for k, v in obj.items():
            try:
                out[k] = _jv(v)
            except _Refused as e:
                e.path.append(_key_path(k, 0))
                raise
        return out
    pairs = []
    for i, (k, v) in enumerate(obj.items()):
        try:
            pairs.append([_jv(k), _jv(v)])
        except _Refused as e:
            e.path.append(u"[key #%d]" % i)
            raise
    return {u"$dict": pairs}


def _jv(obj):
    """obj as JSON's own types (the tags for the rest); raises _Refused for what the
    json codec cannot carry, TypeError for what the value model has to convert first
    (payload/values.py)."""
    t = type(obj)
    if t is text_type or obj is None or t is bool:
        return obj
    if t in _INT_TYPES:
        if _JINT[0] <= obj <= _JINT[1]:
            return obj
        raise _Refused(u"cannot carry an integer beyond 64 bits with the json codec")
    if t is float:
        if obj != obj:
            return {u"$float": u"nan"}
        if obj in (_INF, -_INF):
            return {u"$float": u"inf" if obj > 0 else u"-inf"}
        return obj
    if t is bytes:
        return {u"$bytes": binascii.b2a_base64(obj)[:-1].decode("ascii")}
    if t is list:
        return _jlist(obj)
    if t is tuple:
        return {u"$tuple": _jlist(obj)}
    if t is dict:
        return _jdict(obj)
    if t is set or t is frozenset:
        return {u"$set": _jlist(obj)}
    if t is CallError:
        a = tuple(obj.args) + (u"", u"", u"")
        return {u"$error": [_text(a[0]), _text(a[1]), _text(a[2])]}
    if t is _Carried:
        if obj.fn is Named:
            return {u"$named": [obj.args[0], _jlist(obj.args[1])]}
        return {u"$tagged": [obj.args[0], _jv(obj.args[1])]}
    raise TypeError("the json codec does not carry a %s as it is" % _type_name(obj))


def _jtag(pairs):
    """object_pairs_hook: an object of one '$' key is a tag (the master's, trusted)."""
    if len(pairs) == 1 and pairs[0][0][:1] == u"$":
        tag, v = pairs[0]
        if tag == u"$bytes":
            return binascii.a2b_base64(v.encode("ascii"))
        if tag == u"$tuple":
            return tuple(v)
        if tag == u"$set":
            return set(v)
        if tag == u"$dict":
            return dict((k, x) for k, x in v)
        if tag == u"$float":
            return float(v)
        if tag == u"$error":
            return CallError(*v)
        if tag == u"$named":
            return Named(v[0], v[1])
        if tag == u"$tagged":
            return Tagged(v[0], v[1])
        raise ValueError("unknown json tag %r" % (tag,))
    return dict(pairs)


class _JContext(object):
    """What _json's scanner reads its settings from (json.decoder.JSONDecoder's)."""
    strict = True
    object_hook = None
    object_pairs_hook = staticmethod(_jtag)
    parse_float = float
    parse_int = int
    parse_constant = None
    encoding = "utf-8"      # 2.7


if _json is not None:
    _jscan = _json.make_scanner(_JContext())
    # 2.7's _json has only the ASCII form (the rest then travels as \u escapes).
    _jenc = _json.make_encoder(None, None, getattr(_json, "encode_basestring", None) or
                               _json.encode_basestring_ascii, None, ":", ",",
                               False, False, False)

    def _jdumps(v):
        return u"".join(_jenc(v, 0)).encode("utf-8")

    def _jloads(data):
        text = data.decode("utf-8")
        v, end = _jscan(text, 0)
        if end != len(text):
            raise ValueError("json: extra data at %d" % end)
        return v
else:
    import json as _jsonmod

    def _jdumps(v):
        return _jsonmod.dumps(v, ensure_ascii=False, separators=(",", ":"),
                              allow_nan=False).encode("utf-8")

    def _jloads(data):
        return _jsonmod.loads(data.decode("utf-8"), object_pairs_hook=_jtag)


def dumps(obj):
    return _jdumps(_jv(obj))


def loads(data):
    return _jloads(data)
