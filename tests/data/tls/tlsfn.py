"""Functions for tests/test_tls.c, run in a context that connected back over TLS."""
import logging
import socket
import sys

import econtext


def _conn():
    """(the relay's report pipe, launcher in, spent token, TCP socket), as the tls
    layer's context side leaves them in __main__ (plugins/tls/tls_remote.py)."""
    return econtext.core_code.__globals__["_ec_tls_conn"]


_said = []


def _relay_said():
    """What the relay process negotiated: TLS version, cipher, the SHA-256 of the
    master's certificate (DER, hex), read once from its report pipe."""
    if not _said:
        import os
        data = b""
        while True:
            more = os.read(_conn()[0], 512)
            if not more:
                break
            data += more
        _said.extend(_text(data).split())
    return _said


def info():
    """What the connection is: TLS version, cipher, the master's address and port."""
    version, cipher = _relay_said()[:2]
    peer = _conn()[3].getpeername()
    return {"version": version, "cipher": cipher,
            "address": _text(peer[0]), "port": peer[1]}


def _text(s):
    return s.decode("ascii") if isinstance(s, bytes) else s


def spent_token():
    return _conn()[2]


def log(text):
    logging.getLogger("tlstest").warning("%s", text)
    sys.stderr.write("stderr " + text + "\n")
    sys.stderr.flush()
    return len(text)


def echo(data):
    return data


def _shut(fd):
    s = socket.fromfd(fd, socket.AF_UNIX if fd != _conn()[3].fileno() else socket.AF_INET,
                      socket.SOCK_STREAM)
    s.shutdown(socket.SHUT_RDWR)
    s.close()


def cut_tls():
    """Cut the TCP connection under TLS (both ways): the context and the master see
    its end."""
    _shut(_conn()[3].fileno())
    import time
    time.sleep(30)


def cut_launcher():
    """Cut the launcher's stream (a local context's socketpair) both ways."""
    _shut(_conn()[1])
    import time
    time.sleep(30)


def peer_sha256():
    """The SHA-256 of the certificate the master presented (DER), hex, as the relay
    computed it to pin it."""
    return _relay_said()[2]
