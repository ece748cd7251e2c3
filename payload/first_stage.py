# econtext first stage: run as `<python> -c '<this, minified>'` (docs/protocol.md 1).
# build-aux/mkpayload.py minifies it into one line of at most 512 bytes. Rules: runs
# unchanged on CPython 2.7 and 3.6+, no single quote anywhere, no f-strings.
# posix, not os: importing os costs 2.5 to 3.5 ms on every interpreter (-S), and
# posix has everything used here (its environ is the dict execve takes).
from posix import *
import posix, sys, zlib, select


def R(n, b=b""):
    # Exactly n bytes from fd 0: raw os.read (no read-ahead), select first (the fd
    # may be non-blocking), retry on EINTR (4), EOF -> exit status 1.
    while len(b) < n:
        try:
            select.select([0], [], [])
            b += read(0, n - len(b)) or posix._exit(1)
        except Exception as e:
            if e.args[0] - 4:
                raise
    return b


# The boot marker, before anything is read: a transport that shares stdin with a
# password prompt (sudo -S) learns that the interpreter runs and no prompt comes, and
# writes the stream only then (docs/protocol.md 1).
write(1, b"ECBOOT0\n")
# 10 ASCII digits N, then N bytes of raw deflate: C, what the re-executed interpreter
# will read (the loader, then the line `_ec_main({...})`), a NUL, the exec stage
# (payload/exec_stage.py, after a first line `A="<argv0>"`), run here: it forks and
# re-executes the interpreter; a NUL, then B, the core (source or bytecode) for the
# loader. Being in the stream, the exec stage costs no byte here.
C, X, B = zlib.decompress(R(int(R(10))), -15).split(b"\0", 2)
exec(X)
