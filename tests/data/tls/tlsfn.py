"""Functions for tests/test_tls.c, run in a context that connected back over TLS."""
import logging
import socket
import sys

import econtext


def _conn():
    """(TLS object, relay socket, launcher in, launcher out, spent token, TCP socket),
    as the core's connect-back keeps them (payload/econtext_core.py), once the context
    has switched to its connection (the lazy switch: in use over its transport first)."""
    econtext.connect_back_state(True)
    return econtext.core_code.__globals__["_cfg"]["connected_back"]


def info():
    """What the connection is: TLS version, cipher, the master's address and port."""
    ss = _conn()[0]
    peer = _conn()[5].getpeername()
    return {"version": _text(ss.version()), "cipher": _text(ss.cipher()[0]),
            "address": _text(peer[0]), "port": peer[1]}


def _text(s):
    return s.decode("ascii") if isinstance(s, bytes) else s


def spent_token():
    return _conn()[4]


def log(text):
    logging.getLogger("tlstest").warning("%s", text)
    sys.stderr.write("stderr " + text + "\n")
    sys.stderr.flush()
    return len(text)


def echo(data):
    return data


def _shut(fd):
    s = socket.fromfd(fd, socket.AF_UNIX if fd != _conn()[5].fileno() else socket.AF_INET,
                      socket.SOCK_STREAM)
    s.shutdown(socket.SHUT_RDWR)
    s.close()


def cut_tls():
    """Cut the TCP connection under TLS (both ways): the context and the master see
    its end."""
    _shut(_conn()[5].fileno())
    import time
    time.sleep(30)


def cut_launcher():
    """Cut the launcher's stream (a local context's socketpair) both ways."""
    _shut(_conn()[2])
    import time
    time.sleep(30)


def peer_sha256():
    """The SHA-256 of the certificate the master presented (DER), hex."""
    import hashlib
    ss = _conn()[0]
    get = getattr(ss, "getpeercert", None) or ss.peer_certificate
    return _text(hashlib.sha256(get(True)).hexdigest())


def _core():
    return econtext.core_code.__globals__["_cfg"]


def state():
    """Where the context's frames go: launcher (over its transport), upstream (its own
    on the connection, the master's still over the transport), switched (both ways)."""
    return econtext.connect_back_state()


def wait_switched():
    """Return once the relay has switched both ways (an event: its lock)."""
    return econtext.connect_back_state(True)


def seq(i):
    """i, and where the frames went when this call ran."""
    return [i, state()]



def direct():
    """Once the core reads and writes the connection itself (an event: the relay
    releases tls_direct_in's lock then; the caller's deadline bounds the wait): the
    bytes the relay wrote on the connection and those it passed to the core."""
    _core()["tls_direct_in"].acquire()
    _core()["tls_direct_in"].release()
    relay = _core()["tls_direct"]
    return [True, relay.up_tls, relay.down_loc]


def blob(n):
    """n bytes, to the master."""
    return b"\x5a" * n
