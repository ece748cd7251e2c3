# valuecases.py: the cases of tests/test_values.c. Run directly (python -S
# valuecases.py) it prints, one JSON line per case, the call and what the command must
# print for its result, computed here from the value this interpreter makes locally, by
# docs/values.md, independently of payload/values.py. Imported in a context (served
# from the master) it gives the helpers the cases call.
import sys

PY3 = sys.version_info[0] >= 3
BI = "builtins" if PY3 else "__builtin__"
URL = "urllib.parse" if PY3 else "urlparse"
text_type = str if PY3 else unicode  # noqa: F821

# (module, qualname, args, mode): mode "exact" compares values, "shape" the JSON types
# and keys (values that change between two calls), "refuse" expects a refusal.
CASES = [
    ("os", "stat", ["/"], "shape"),
    ("os", "lstat", ["/"], "shape"),
    ("os", "uname", [], "exact"),
    ("os", "statvfs", ["/proc"], "exact"),
    ("os", "times", [], "shape"),
    ("os", "getcwd", [], "exact"),
    ("os", "getuid", [], "exact"),
    ("os", "getgroups", [], "exact"),
    ("os", "getloadavg", [], "shape"),
    ("os", "cpu_count", [], "exact"),
    ("os", "sched_getaffinity", [0], "exact"),
    ("os.path", "splitext", ["a/b.tar.gz"], "exact"),
    ("os.path", "split", ["/usr/lib"], "exact"),
    ("pwd", "getpwuid", [0], "exact"),
    ("pwd", "getpwnam", ["root"], "exact"),
    ("grp", "getgrgid", [0], "exact"),
    ("time", "gmtime", [0], "exact"),
    ("time", "localtime", [86400], "exact"),
    ("time", "strptime", ["2024-05-01", "%Y-%m-%d"], "exact"),
    ("valuecases", "attr", ["sys", "version_info"], "exact"),
    ("valuecases", "attr", ["sys", "float_info"], "exact"),
    ("valuecases", "attr", ["sys", "hash_info"], "exact"),
    ("valuecases", "attr", ["sys", "int_info"], "exact"),
    ("valuecases", "attr", ["sys", "thread_info"], "exact"),
    ("valuecases", "attr", ["errno", "errorcode"], "exact"),
    ("valuecases", "attr", ["sys", "maxsize"], "exact"),
    ("resource", "getrusage", [0], "shape"),
    ("resource", "getrlimit", [7], "exact"),
    ("shutil", "disk_usage", ["/"], "shape"),
    ("platform", "uname", [], "exact"),
    ("platform", "architecture", [], "exact"),
    ("platform", "python_version_tuple", [], "exact"),
    ("socket", "getaddrinfo", ["127.0.0.1", 80, 2, 1], "exact"),
    ("socket", "AddressFamily", [2], "exact"),
    ("signal", "Signals", [15], "exact"),
    ("http", "HTTPStatus", [404], "exact"),
    ("calendar", "monthrange", [2024, 2], "exact"),
    ("collections", "OrderedDict", [[["b", 1], ["a", 2]]], "exact"),
    ("collections", "Counter", ["hello"], "exact"),
    ("collections", "defaultdict", [None, {"a": 1}], "exact"),
    ("datetime", "datetime", [2024, 5, 1, 12, 30, 0, 250000], "exact"),
    ("datetime", "date", [2024, 5, 1], "exact"),
    ("datetime", "time", [12, 30], "exact"),
    ("datetime", "timedelta", [1, 3723, 500000], "exact"),
    ("datetime", "timedelta", [-1], "exact"),
    ("datetime", "date.fromordinal", [738000], "exact"),
    ("valuecases", "aware", [], "exact"),
    ("decimal", "Decimal", ["1.10"], "exact"),
    ("decimal", "Decimal", ["-Infinity"], "exact"),
    ("uuid", "UUID", ["12345678-1234-5678-1234-567812345678"], "exact"),
    ("pathlib", "PurePosixPath", ["/etc", "passwd"], "exact"),
    ("pathlib", "Path", ["/tmp"], "exact"),
    ("json", "loads", ['{"a": [1, 2.5, null, true]}'], "exact"),
    ("math", "frexp", [8.0], "exact"),
    ("math", "modf", [2.5], "exact"),
    ("operator", "pow", [3, 80], "exact"),
    (BI, "divmod", [7, 2], "exact"),
    ("email.utils", "parseaddr", ["A <a@b.example>"], "exact"),
    (URL, "urlsplit", ["http://h:1/p?q#f"], "exact"),
    (URL, "urlparse", ["http://h/p;x?q#f"], "exact"),
    ("shlex", "split", ["a 'b c'"], "exact"),
    ("tempfile", "gettempdir", [], "exact"),
    ("getpass", "getuser", [], "exact"),
    ("os.path", "getsize", ["/usr/lib/os-release"], "exact"),  # a file no test rewrites
    ("valuecases", "subclasses", [], "exact"),
    ("valuecases", "exception", [], "exact"),
    ("valuecases", "named_set", [], "exact"),
    # Refused: the message names the type and where it sits.
    ("valuecases", "nested_socket", [], "refuse"),
    ("socket", "socket", [], "refuse"),
    ("collections", "deque", [[1, 2]], "refuse"),
    ("fractions", "Fraction", [1, 3], "refuse"),
    ("threading", "Lock", [], "refuse"),
    (BI, "iter", [[1, 2]], "refuse"),
    ("ipaddress", "ip_address", ["127.0.0.1"], "refuse"),
    ("time", "get_clock_info", ["monotonic"], "refuse"),
    ("valuecases", "old_style", [], "refuse"),
    ("valuecases", "bad_key", [], "refuse"),
]


def attr(module, name):
    __import__(module)
    return getattr(sys.modules[module], name)


def aware():
    import datetime
    if not PY3:
        raise AttributeError("datetime.timezone")
    tz = datetime.timezone(datetime.timedelta(hours=-5, minutes=-30))
    return datetime.datetime(2024, 5, 1, 12, 30, 0, 1, tz)


class S(text_type):
    def __str__(self):
        return "not this"


class B(bytes):
    pass


class I(int):
    pass


class F(float):
    pass


class L(list):
    pass


class T(tuple):
    pass


class D(dict):
    pass


class Z(frozenset):
    pass


def subclasses():
    items = [S(u"safe"), B(b"raw"), I(7), F(-0.5), L([1, S(u"x")]), T((1, 2)),
             D(k=I(1)), Z([3]), bytearray(b"ba")]
    if not PY3:
        class Long(long):  # noqa: F821
            pass
        items.append(Long(5))
    return items


def exception():
    return [ValueError("bad value"), KeyError("k")]


def named_set():
    import collections
    P = collections.namedtuple("P", "x y")
    return {"points": frozenset([P(1, 2)]), P(3, 4): "as a key"}


def nested_socket():
    import socket
    return [0, 1, 2, {"mtime": socket.socket()}]


def old_style():
    if PY3:
        raise AttributeError("no old-style classes")

    class Old:
        pass
    return {"k": [Old()]}


def bad_key():
    import threading
    return {threading.Lock(): 1}


def echo(x):
    return x


def nest(n):
    """A list n deep: [[[...]]]."""
    v = []
    for _ in range(n):
        v = [v]
    return v


def forge(data):
    """Reply to this call with data as it is, not encoded (the master's decoder sees a
    forged payload), then end the context: the real reply would follow."""
    core = sys.modules["__main__"]
    core.send_raw(core._running[0], data)
    core.posix._exit(0)


def describe(x):
    """What an argument became in the context: its type and text."""
    t = type(x)
    mod = t.__module__.split("._")[0]     # pathlib._local.PosixPath on 3.13
    return (u"%s.%s" % (mod, getattr(t, "__qualname__", t.__name__)), text_type(x))


# ---- run directly: the expected JSON, computed locally ---------------------------


def _jtext(s):
    import json
    return json.dumps(s)


def _duration(td):
    us = td.days * 86400000000 + td.seconds * 1000000 + td.microseconds
    neg, us = us < 0, abs(us)
    d, r = divmod(us, 86400000000)
    h, r = divmod(r, 3600000000)
    m, r = divmod(r, 60000000)
    s = r / 1000000.0
    t = ("%dH" % h if h else "") + ("%dM" % m if m else "")
    if r or not (d or t):
        t += ("%.6f" % s).rstrip("0").rstrip(".") + "S"
    return ("-" if neg else "") + "P" + ("%dD" % d if d else "") + ("T" + t if t else "")


def _fields(x):
    t = type(x)
    if hasattr(t, "n_sequence_fields"):
        return [k for k, d in t.__dict__.items() if type(d).__name__ == "member_descriptor"]
    return list(t._fields)


def _key(k):
    if isinstance(k, text_type):
        return _jtext(k)
    if isinstance(k, bytes):
        return _jtext(k.decode("utf-8"))
    return _jtext(to_json(k))


def to_json(x):
    """The command's JSON for x: docs/values.md."""
    mods = sys.modules
    t = type(x)
    if x is None:
        return "null"
    if t is bool:
        return "true" if x else "false"
    if "enum" in mods and isinstance(x, mods["enum"].Enum):
        return _jtext("%s.%s" % (t.__name__, x.name))
    if "datetime" in mods:
        dt = mods["datetime"]
        if isinstance(x, (dt.datetime, dt.date, dt.time)):
            return _jtext(x.isoformat())
        if isinstance(x, dt.timedelta):
            return _jtext(_duration(x))
    for mod, cls in (("decimal", "Decimal"), ("uuid", "UUID"), ("pathlib", "PurePath")):
        if mod in mods and isinstance(x, getattr(mods[mod], cls)):
            return _jtext(str(x))
    if isinstance(x, BaseException):
        return "{\"$error\": %s, \"message\": %s}" % (
            _jtext("%s.%s" % (t.__module__, t.__name__)), _jtext(str(x)))
    if hasattr(t, "n_sequence_fields") or (isinstance(x, tuple) and hasattr(t, "_fields")):
        return "{%s}" % ", ".join("%s: %s" % (_jtext(k), to_json(getattr(x, k)))
                                  for k in _fields(x))
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, (int, long)) if not PY3 else isinstance(x, int):  # noqa: F821
        return str(int(x)) if PY3 else str(long(x))  # noqa: F821
    if isinstance(x, float):
        return repr(float(x))
    if isinstance(x, text_type):
        return _jtext(x)
    if isinstance(x, (bytes, bytearray)):
        try:
            return _jtext(bytes(x).decode("utf-8"))
        except UnicodeDecodeError:
            import base64
            return "{\"$bytes\": \"%s\"}" % base64.b64encode(bytes(x)).decode("ascii")
    if isinstance(x, dict):
        return "{%s}" % ", ".join("%s: %s" % (_key(k), to_json(v)) for k, v in x.items())
    if isinstance(x, (list, tuple, set, frozenset)):
        return "[%s]" % ", ".join(to_json(v) for v in x)
    raise TypeError("no JSON for %s" % t)


def _refusal(name):
    """The message of a refused case, as the context must say it."""
    def tn(o):
        c = getattr(o, "__class__", type(o))
        return "%s.%s" % (c.__module__, getattr(c, "__qualname__", c.__name__))
    if name == "nested_socket":     # socket._socketobject on 2.7
        import socket
        return "result[3]['mtime']: cannot carry a %s" % tn(socket.socket())
    if name == "old_style":
        return "result['k'][0]: cannot carry a valuecases.Old"
    if name == "bad_key":
        return "result[key #0]: cannot carry a _thread.lock" if PY3 else \
            "result[key #0]: cannot carry a thread.lock"
    return None


def main():
    import json
    sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
    for i, (mod, qual, args, mode) in enumerate(CASES):
        out = {"i": i, "module": mod, "qualname": qual, "args": args, "mode": mode}
        try:
            __import__(mod)
            fn = sys.modules[mod]
            for part in qual.split("."):
                fn = getattr(fn, part)
            value = fn(*args)
        except (ImportError, AttributeError, TypeError, ValueError, OSError):
            out["mode"] = "absent"      # not in this interpreter
            print(json.dumps(out))
            continue
        if mode == "refuse":
            msg = _refusal(qual)
            if msg is None:
                c = getattr(value, "__class__", type(value))
                msg = "result: cannot carry a %s.%s" % (
                    c.__module__, getattr(c, "__qualname__", c.__name__))
            out["message"] = msg
        else:
            out["json"] = to_json(value)
        print(json.dumps(out))


if __name__ == "__main__":
    main()
