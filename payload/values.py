# values.py: the value model's context side (docs/values.md), appended to the remote
# core: what a result becomes when the pickle subset cannot carry it as it is. A
# subclass of a carried built-in becomes its base; a namedtuple or a struct sequence
# an econtext.Named; a datetime, date, time, timedelta, Decimal, UUID, path or enum
# member an econtext.Tagged; an exception a CallError. Anything else is refused, naming
# its type and where it sits. The core pickles a result as it is first and converts it
# only when that fails, so plain values pay nothing. Named and Tagged, unpickled
# from the master, rebuild the Python objects.


class _Carried(object):
    """A converted value on its way to the pickler: REDUCE of fn (econtext.Named or
    econtext.Tagged, a whitelisted global of the master) on args."""
    __slots__ = ("fn", "args")

    def __init__(self, fn, args):
        self.fn = fn
        self.args = args

    def __reduce__(self):
        return (self.fn, self.args)


class _Refused(Exception):
    """A value that cannot be carried; path collects where it sits, innermost last
    while unwinding."""

    def __init__(self, what):
        Exception.__init__(self, what)
        self.what = what
        self.path = []


def _type_name(obj):
    t = getattr(obj, "__class__", type(obj))    # 2.7's old-style instances
    return "%s.%s" % (getattr(t, "__module__", "?"),
                      getattr(t, "__qualname__", getattr(t, "__name__", "?")))


_SCALARS = frozenset([type(None), bool, int, float, bytes, text_type] +
                     ([] if PY3 else [long]))
_NAMES = {}             # type -> (spec, field names) of named tuples


def _struct_names(t, obj):
    """Field names of a struct sequence type in field order: the named visible
    fields, then the hidden ones (os.stat_result's float st_atime...); unnamed fields
    are left out."""
    members = [k for k, d in t.__dict__.items() if type(d).__name__ == "member_descriptor"]
    try:
        marks = tuple([object() for _ in range(t.n_fields)])
        inst = t(marks)
        pos = dict((k, marks.index(getattr(inst, k))) for k in members)
    except Exception:
        # Not instantiable (sys.version_info): 3.x keeps the definition order; on 2.7
        # the visible fields are in repr order, the hidden ones after.
        r = repr(obj)
        pos = dict((k, i if PY3 else (r.find(k + "=") % (len(r) + 1)))
                   for i, k in enumerate(members))
    return tuple(sorted(members, key=pos.get))


def _named_info(t, obj):
    info = _NAMES.get(t)
    if info is None:
        if hasattr(t, "n_sequence_fields"):
            names = _struct_names(t, obj)
        else:
            names = tuple(_text(n) for n in t._fields)
        # One text, "os.stat_result st_mode st_ino ...": the pickler's memo sends it
        # once and a reference per value, which the master copies cheaply.
        names = tuple(_text(n) for n in names)
        info = _NAMES[t] = (u" ".join((_text(_type_name(obj)),) + names), names)
    return info


def _duration(td):
    """ISO 8601 text of a timedelta: P1DT2H3M4.5S, -PT0.000001S, PT0S."""
    us = (td.days * 86400 + td.seconds) * 1000000 + td.microseconds
    sign = u"-" if us < 0 else u""
    days, us = divmod(abs(us), 86400000000)
    h, us = divmod(us, 3600000000)
    m, us = divmod(us, 60000000)
    s, us = divmod(us, 1000000)
    t = (u"%dH" % h if h else u"") + (u"%dM" % m if m else u"")
    if s or us or not (days or t):
        t += (u"%d.%06d" % (s, us)).rstrip(u"0").rstrip(u".") + u"S"
    return sign + u"P" + (u"%dD" % days if days else u"") + (u"T" + t if t else u"")


# Types whose text is their tagged form: (module, class, tag). A module that is not
# loaded cannot have made the value.
_TEXT_TAGS = (("decimal", "Decimal", u"decimal"), ("uuid", "UUID", u"uuid"),
              ("pathlib", "PurePath", u"path"))


def _tagged(obj, t):
    """The Tagged form of a value of a known library type, or None."""
    mods = sys.modules
    dt = mods.get("datetime")
    if dt is not None:
        if isinstance(obj, dt.datetime):
            return _Carried(Tagged, (u"datetime", _text(obj.isoformat())))
        if isinstance(obj, dt.date):
            return _Carried(Tagged, (u"date", _text(obj.isoformat())))
        if isinstance(obj, dt.time):
            return _Carried(Tagged, (u"time", _text(obj.isoformat())))
        if isinstance(obj, dt.timedelta):
            return _Carried(Tagged, (u"timedelta", _duration(obj)))
    for mod, cls, tag in _TEXT_TAGS:
        m = mods.get(mod)
        if m is not None and isinstance(obj, getattr(m, cls)):
            return _Carried(Tagged, (tag, _text(obj)))
    m = mods.get("enum")
    if m is not None and isinstance(obj, m.Enum):
        return _Carried(Tagged, (u"enum", (_text(_type_name(obj)), _text(obj.name),
                                           _carry(obj.value))))
    return None


def _base(obj, t):
    """A subclass of a carried built-in as its base, or None."""
    for base in t.__mro__[1:]:
        if base in _SCALARS:
            if base is text_type or base is bytes:
                return base.__getitem__(obj, slice(None))
            return base.__float__(obj) if base is float else base.__add__(obj, 0)
        if base in _CONTAINERS:
            return _CONTAINERS[base](obj)
    return None


def _carry_list(obj, conv=None):
    """[conv(x) for x in obj] (conv: _carry), a refusal's path naming the index; the
    codec's own conversion uses it too (plugins/json/json_remote.py)."""
    conv = conv or _carry
    out = []
    for i, x in enumerate(obj):
        try:
            out.append(conv(x))
        except _Refused as e:
            e.path.append(u"[%d]" % i)
            raise
    return out


def _key_path(k, i):
    if type(k) is text_type and len(k) <= 40:
        return u"['%s']" % k
    if type(k) in (int, bytes) and len(repr(k)) <= 40:
        return u"[%s]" % _text(repr(k))
    return u"[key #%d]" % i


def _carry_dict(obj):
    out = {}
    for i, (k, v) in enumerate(obj.items()):
        try:
            ck = _carry(k)
        except _Refused as e:
            e.path.append(u"[key #%d]" % i)
            raise
        try:
            out[ck] = _carry(v)
        except _Refused as e:
            e.path.append(_key_path(k, i))
            raise
    return out


_CONTAINERS = {
    list: _carry_list,
    tuple: lambda obj: tuple(_carry_list(obj)),
    dict: _carry_dict,
    set: lambda obj: set(_carry_list(obj)),
    frozenset: lambda obj: frozenset(_carry_list(obj)),
}


def _carry(obj):
    """obj in the forms the pickle subset carries (docs/values.md)."""
    t = type(obj)
    if t in _SCALARS or t is CallError or t is _Carried:
        return obj
    conv = _CONTAINERS.get(t)
    if conv is not None:
        return conv(obj)
    if hasattr(t, "n_sequence_fields") or (isinstance(obj, tuple) and hasattr(t, "_fields")):
        spec, names = _named_info(t, obj)
        # By name: 3.9's platform.uname_result iterates over a field more than it has.
        return _Carried(Named, (spec, tuple(_carry_list([getattr(obj, n) for n in names]))))
    c = _tagged(obj, t)
    if c is not None:
        return c
    if isinstance(obj, BaseException):
        return CallError(_text(_type_name(obj)), _text(obj), u"")
    if t is bytearray:
        return bytes(obj)
    if isinstance(t, type):
        c = _base(obj, t)
        if c is not None:
            return c
    raise _Refused(u"cannot carry a %s" % _type_name(obj))


def _dumps_carried(result):
    """The pickle of result once converted, or of the SerializationError that says
    what cannot be carried and where."""
    try:
        return dumps(_carry(result))
    except _Refused as e:
        msg = u"result%s: %s" % (u"".join(reversed(e.path)), e.what)
    except Exception:
        e = sys.exc_info()[1]
        msg = u"result: cannot carry a %s: %s" % (_type_name(result), _text(e))
    return dumps(CallError(u"econtext.SerializationError", msg, u""))


# ---- from the master: Named and Tagged rebuild Python objects ----------------------
_NAMED_TYPES = {}


def Named(spec, values):
    """econtext.Named: a namedtuple of the master's named tuple, spec being the type
    and the field names separated by spaces (its class made once per spec)."""
    cls = _NAMED_TYPES.get(spec)
    if cls is None:
        from collections import namedtuple
        names = spec.split(u" ")
        type_name = names.pop(0)
        short = str(type_name.rpartition(u".")[2] or u"Named")
        try:
            cls = namedtuple(short, [str(n) for n in names], rename=True)
        except Exception:
            cls = namedtuple("Named", ["_%d" % i for i in range(len(names))], rename=True)
        # Named as the master's value says, so that it goes back as it came.
        cls.__module__ = str(type_name.rpartition(u".")[0])
        if PY3:
            cls.__qualname__ = short
        _NAMED_TYPES[spec] = cls
    return cls(*values)


class _Offset(object):
    """A fixed UTC offset (2.7 has no datetime.timezone)."""

    def __new__(cls, seconds):
        import datetime
        if PY3:
            return datetime.timezone(datetime.timedelta(seconds=seconds))
        tz = _Offset.__dict__.get("cls")
        if tz is None:
            class tz(datetime.tzinfo):
                def __init__(self, off):
                    self.off = datetime.timedelta(seconds=off)

                def utcoffset(self, dt):
                    return self.off

                def dst(self, dt):
                    return None
            _Offset.cls = tz
        return tz(seconds)


def _parse_time(text):
    """(hour, minute, second, microsecond, tzinfo or None) of ISO 8601 text."""
    import re
    m = re.match(r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?"
                 r"(?:([+-])(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?)?$", text)
    if not m:
        raise ValueError("malformed time %r" % text)
    g = m.groups()
    us = int((g[3] or "0").ljust(6, "0"))
    tz = None
    if g[4]:
        off = int(g[5]) * 3600 + int(g[6]) * 60 + int(g[7] or 0)
        off = off + int((g[8] or "0").ljust(6, "0")) / 1e6
        tz = _Offset(-off if g[4] == "-" else off)
    return int(g[0]), int(g[1]), int(g[2]), us, tz


def _parse_duration(text):
    import re, datetime
    m = re.match(r"(-?)P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.(\d{1,6}))?S)?)?$",
                 text)
    if not m:
        raise ValueError("malformed duration %r" % text)
    g = m.groups()
    td = datetime.timedelta(days=int(g[1] or 0), hours=int(g[2] or 0),
                            minutes=int(g[3] or 0), seconds=int(g[4] or 0),
                            microseconds=int((g[5] or "0").ljust(6, "0")))
    return -td if g[0] else td


def Tagged(tag, value):
    """econtext.Tagged: the Python object of a tagged value (docs/values.md)."""
    import datetime
    if tag == u"datetime":
        d, _, t = value.partition(u"T")
        y, mo, da = (int(x) for x in d.split(u"-"))
        return datetime.datetime(y, mo, da, *_parse_time(t))
    if tag == u"date":
        return datetime.date(*(int(x) for x in value.split(u"-")))
    if tag == u"time":
        return datetime.time(*_parse_time(value))
    if tag == u"timedelta":
        return _parse_duration(value)
    if tag == u"decimal":
        import decimal
        return decimal.Decimal(value)
    if tag == u"uuid":
        import uuid
        return uuid.UUID(value)
    if tag == u"path":
        try:
            import pathlib
        except ImportError:         # 2.7: the text
            return value
        return pathlib.Path(value)
    if tag == u"enum":
        cls_name, name, v = value
        mod, _, qual = cls_name.rpartition(u".")
        try:                        # the member, where the class can be found
            cls = _import(mod)
            for part in qual.split(u"."):
                cls = getattr(cls, str(part))
            return cls[str(name)]
        except Exception:
            return v
    if tag == u"channel":
        return _channel_arg(value)  # payload/channels.py
    raise ValueError("unknown econtext.Tagged tag %r" % (tag,))


for _fn in (Named, Tagged):
    _fn.__module__ = "econtext"
    setattr(_econtext, _fn.__name__, _fn)
