# econtext first stage: run as `<python> -c '<this, minified>'` (docs/protocol.md 1).
# build-aux/mkpayload.py minifies it into one line of at most 512 bytes. Rules: runs
# unchanged on CPython 2.7 and 3.6+, no single quote anywhere, no f-strings.
import os, sys, zlib, select


def R(n, b=bytes()):
    # Exactly n bytes from fd 0: raw os.read (no read-ahead), select first (the fd
    # may be non-blocking), retry on EINTR (4), EOF -> exit 1.
    while len(b) < n:
        try:
            select.select([0], [], [])
            b += os.read(0, n - len(b)) or sys.exit(1)
        except Exception as e:
            if e.args[0] - 4:
                raise
    return b


# 10 ASCII digits N, then N bytes of raw deflate: the core source plus, as its last
# line, `_ec_main({...})`; what follows the last `_ec_main` is the config dict in
# parentheses.
C = zlib.decompress(R(int(R(10))), -15)
r, w = os.pipe()
p = os.fork()
# Child: feed the source to the parent through the pipe and leave without clean-up
# (a blocking pipe write is complete unless a signal handler interrupts it).
p or [os.write(w, C), os._exit(0)]
# Parent: keeps the pid the transport waits on. Channel -> fds 100/101, the pipe
# becomes stdin, and the interpreter is re-executed without site (-S) under the
# argv[0] the master chose; it reads the core from the pipe. EC_BOOT hands over
# what this interpreter (which ran site) computed: [child pid, executable, prefix,
# path].
os.dup2(0, 100)
os.dup2(1, 101)
os.dup2(r, 0)
os.close(r)
os.close(w)
os.environ["EC_BOOT"] = repr([p, sys.executable, sys.prefix, sys.path])
os.execl(sys.executable, eval(C[C.rfind(b"_ec_main(") + 8:])["argv0"], "-S")
