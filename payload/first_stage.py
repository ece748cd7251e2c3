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
# 10 ASCII digits N, then N bytes of raw deflate: the core source, then the line
# `_ec_main({...})`, then a last line `#<argv0>` without newline: what follows the
# last `#` is the argv[0] the master chose (printable ASCII, no `#`).
C = zlib.decompress(R(int(R(10))), -15)
r, w = pipe()
# Child (fork returns 0): feed the source to the parent through the pipe and leave
# without clean-up (a blocking pipe write is complete unless a signal handler
# interrupts it). posix._exit: `import *` skips names that start with `_`.
p = fork() or [write(w, C), posix._exit(0)]
# Parent: keeps the pid the transport waits on. Channel -> fds 100/101, the pipe
# becomes stdin, and the interpreter is re-executed without site (-S) under the
# argv[0] the master chose; it reads the core from the pipe. EC_BOOT hands over
# what this interpreter computed from its real executable, and PYTHONUNBUFFERED, which
# is taken out of the environment because it makes the interpreter read its program
# from the pipe one byte per read(2): [child pid, executable, sys.path,
# PYTHONUNBUFFERED or 0]. The core restores the real values. (posix.environ's keys are
# bytes on 3.x, str on 2.7: b"" literals are both.)
dup2(0, 100)
dup2(1, 101)
dup2(r, 0)
# r stays open only on 2.7 (3.x pipes are not inheritable); the core closes it there.
# w must go: the new interpreter reads its program until EOF.
close(w)
E = sys.executable
environ[b"EC_BOOT"] = str([p, E, sys.path, environ.pop(b"PYTHONUNBUFFERED", 0)])
execve(E, [C.split(b"#")[-1], "-S"], environ)
