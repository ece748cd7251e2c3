# econtext loader: the program the re-executed interpreter reads from its stdin
# (docs/protocol.md 1); the master appends the line `_ec_main({...})`. It takes the
# core from fd 102, where the exec stage writes B, the stream's last part: b"S" and
# the core's source, or b"C", the interpreter's 4-byte bytecode magic and the core's
# code object marshalled (the master's bytecode cache). It compiles or unmarshals it,
# keeps the code object (_ec_code: econtext.core_code marshals it for the cache) and
# runs it here, in __main__. Bytes on a pipe of their own, not a literal in this
# source: a literal is three times their size and costs the parser 1-3 ms.
# Runs unchanged on 2.7 and 3.6+.
import marshal
import posix
import sys

_ec_b = []
while True:
    try:
        _ec_d = posix.read(102, 1 << 20)
    except OSError as e:
        if e.errno != 4:    # EINTR: 2.7 does not retry
            raise
        continue
    if not _ec_d:
        break
    _ec_b.append(_ec_d)
posix.close(102)
_ec_b = b"".join(_ec_b)
if _ec_b[:1] == b"C":
    # An entry for another Python (the binary behind the name was replaced): stop
    # with a sentence (core/codecache.h EC_CODECACHE_REFUSAL), not with garbage.
    if _ec_b[1:5] != (sys.modules["_frozen_importlib_external"].MAGIC_NUMBER
                      if sys.version_info[0] > 2 else __import__("imp").get_magic()):
        raise SystemExit("econtext: this bytecode cache entry is for another Python")
    _ec_code = marshal.loads(_ec_b[5:])
else:
    _ec_code = compile(_ec_b[1:], "<stdin>", "exec", 0, True)
del _ec_b, _ec_d
exec(_ec_code)
