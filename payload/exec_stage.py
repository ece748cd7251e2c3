# econtext exec stage: the first stage exec()s this in the first interpreter; it comes
# in the stream after a NUL (docs/protocol.md 1), so it has no size limit. It finds
# the first stage's names (posix's, sys, R), C (what the re-executed interpreter reads:
# the loader, payload/loader.py, and its `_ec_main({...})` line), B (the core, as
# source or as bytecode, for the loader) and A, the argv[0] the master chose, which
# the master writes as this source's first line. Runs unchanged on 2.7 and 3.6+.
r, w = pipe()
# B goes through a pipe of its own, fd 102 in the new interpreter.
s, t = pipe()
# Child (fork returns 0): feed C to the parent through the pipe, end it, then B, and
# leave without clean-up (a blocking pipe write is complete unless a signal handler
# interrupts it). posix._exit: `import *` skips names that start with `_`.
p = fork() or [write(w, C), close(w), write(t, B), posix._exit(0)]
# Parent: keeps the pid the transport waits on. Channel -> fds 100/101, the pipe
# becomes stdin, and the interpreter is re-executed without site (-S) under argv[0] A;
# it reads the core from the pipe. w and t must go: the new interpreter reads its
# program, then the bytecode, until EOF. r and s go too (on 2.7 pipes are inheritable).
dup2(0, 100)
dup2(1, 101)
dup2(r, 0)
close(r)
close(w)
dup2(s, 102)
close(s)
close(t)
E = sys.executable
# argv[0] is a name, not a path, so the new interpreter cannot find its installation
# from it and falls back to the prefix it was built with: one that was moved since
# (python-build-standalone, as uv installs it; a relocated conda) would not start.
# PYTHONHOME names the installation this one found (the base of a virtualenv).
b = getattr(sys, "real_prefix", 0)
H = b"PYTHONHOME"
# EC_BOOT hands over what this interpreter computed from its real executable and what
# the environment held, for the core to put back: [child pid, executable, sys.path,
# PYTHONUNBUFFERED or 0, PYTHONHOME or 0]. PYTHONUNBUFFERED is taken out because it
# makes the interpreter read its program from the pipe one byte per read(2).
# (posix.environ's keys are bytes on 3.x, str on 2.7: b"" literals are both.)
environ[b"EC_BOOT"] = str([p, E, sys.path, environ.pop(b"PYTHONUNBUFFERED", 0), environ.pop(H, 0)])
P = b or getattr(sys, "base_prefix", sys.prefix)
Q = b or getattr(sys, "base_exec_prefix", sys.exec_prefix)
if ":" not in P + Q:  # PYTHONHOME is "prefix:exec_prefix": a ":" in either breaks it
    environ[H] = P + ":" + Q
execve(E, [A, "-S"], environ)
