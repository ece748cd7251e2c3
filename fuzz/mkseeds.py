#!/usr/bin/env python3
"""mkseeds.py: writes the seed inputs of the channel and transfer fuzz targets
(fuzz/corpus/channel, fuzz/corpus/transfer) in the formats fuzz/fuzz_channel.c and
fuzz/fuzz_transfer.c describe, their values pickled as a context pickles them.
Usage: python3 fuzz/mkseeds.py (from anywhere; the files are committed)."""
import os
import pickle
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def p(v, proto=2):
    return pickle.dumps(v, protocol=proto)


# ---- channel: operations (fuzz/fuzz_channel.c) ------------------------------------
DATA, CLOSE, ACK, VALUES = 1, 2, 3, 4
CONTENT = 0xe1      # its kind byte is 0xe0-0xef (fuzz_channel.c)


def values(*pickles):
    return b"".join(len(x).to_bytes(4, "big") + x for x in pickles)


def frame(ch, kind, payload, arg_bits=0):
    return bytes([0, ch | arg_bits, kind - 1, len(payload) & 255, len(payload) >> 8]) + payload


def big(ch, units, payload=b"", kind=DATA):
    return bytes([2, ch, kind - 1, units & 255, units >> 8]) + payload


def recv(ch):
    return bytes([3, ch])


def send(ch, arg):
    return bytes([4, ch, arg])


def close(ch):
    return bytes([5, ch])


def reopen(ch):
    return bytes([6, ch])


def gone():
    return bytes([7, 0])


def channel_seeds():
    write("channel", "data-in-order",
          frame(0, DATA, p(42)) + frame(0, DATA, p("hello")) + frame(1, DATA, p([1, 2.5, None]))
          + recv(0) + recv(1) + recv(0) + frame(0, DATA, p(b"chunk", 4)) + recv(0))
    write("channel", "send-ack",
          send(1, 7) + send(1, 0x85) + frame(1, ACK, p(1)) + frame(1, ACK, p(0)) + send(2, 3)
          + frame(2, ACK, p(2)) + recv(1))
    write("channel", "remote-close",
          frame(2, DATA, p({"a": (1, 2)})) + frame(2, CLOSE, p(None)) + recv(2) + recv(2)
          + recv(2) + send(2, 1))
    write("channel", "data-after-close",
          frame(3, CLOSE, p(None)) + frame(3, DATA, p(1)))
    write("channel", "window", big(0, 40) + big(0, 40) + recv(0))
    write("channel", "window-one-large", big(1, 80) + recv(1) + frame(1, DATA, p(5)) + recv(1))
    write("channel", "ack-too-much", send(0, 1) + frame(0, ACK, p(10 ** 6)))
    write("channel", "ack-not-int", frame(0, ACK, p("x")))
    write("channel", "unknown-kind", bytes([0, 1, 0xf7, 1, 0]) + p(None)[:1])
    write("channel", "freed-and-unknown",
          close(0) + reopen(0) + frame(0, DATA, p(1), 8) + frame(0, DATA, p(1), 4)
          + frame(0, DATA, p(2)) + recv(0))
    write("channel", "values",
          frame(0, VALUES, values(p(1), p("two"), p(b"3", 3))) + frame(0, DATA, p(4)) + recv(0)
          + recv(0) + recv(0) + recv(0) + frame(1, VALUES, values(p(None))) + recv(1))
    write("channel", "values-cut-short", frame(2, VALUES, values(p(1))[:-1]))
    write("channel", "values-none", frame(3, VALUES, b""))
    # a large frame of values (65 x 64 KiB, zeros after the input): 8 bytes, then one
    # past the window (4 MiB) by a byte
    write("channel", "values-window",
          big(0, 65, values(b"12345678") + (4194297).to_bytes(4, "big"), VALUES))
    write("channel", "content",
          frame(0, CONTENT, b"raw bytes") + frame(0, DATA, p(1)) + frame(0, CONTENT, b"")
          + frame(0, CONTENT, b"more") + recv(0) + recv(0) + recv(0) + recv(0))
    write("channel", "content-window", big(1, 40, b"x", CONTENT) + big(1, 40, b"y", CONTENT)
          + recv(1))
    write("channel", "content-after-close", frame(2, CLOSE, p(None)) + frame(2, CONTENT, b"z"))
    write("channel", "context-gone",
          frame(1, DATA, p(3)) + gone() + recv(1) + recv(1) + recv(1) + send(1, 2) + close(1)
          + reopen(2))


# ---- transfer: a byte, then a pickle (fuzz/fuzz_transfer.c) ------------------------
HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
T = 1700000000.25


def transfer_seeds():
    write("transfer", "stat-same", b"\0" + p((True, False, 4, HEX, 0o644, True)))
    write("transfer", "stat-missing", b"\0" + p((False, False, 0, None, 0, False)))
    write("transfer", "stat-dir", b"\0" + p((True, True, 0, None, 0o755, False)))
    write("transfer", "stat-py2-bytes", b"\0" + p((True, False, 4, HEX.encode(), 0o600, True)))
    write("transfer", "stat-int-digest", b"\0" + p((True, False, 4, 7, 0o644, True)))
    write("transfer", "get", b"\1" + p((4, HEX, 0o644, T)))
    write("transfer", "get-int-mtime", b"\1" + p((4, HEX, 0o755, 1700000000), 4))
    write("transfer", "get-before-1970", b"\1" + p((0, HEX, 0o600, -1.5)))
    write("transfer", "get-nan-mtime", b"\1" + p((4, HEX, 0o644, float("nan"))))
    write("transfer", "get-int-digest", b"\1" + p((4, 12, 0o644, T)))
    tree = [(b"", 0, 0o755, None, T), (b"a", 0, 0o750, None, T), (b"a/f", 1, 0o644, None, T),
            (b"a/l", 2, 0, b"f", T), (b"a/b", 0, 0o700, None, T), (b"a/b/g", 1, 0o600, None, T),
            (b"a/b", 3, 0o500, None, T), (b"a", 3, 0o750, None, T), (b"top", 1, 0o644, None, T),
            (b"", 3, 0o755, None, T)]
    write("transfer", "walk-tree", b"\2" + p(tree))
    write("transfer", "walk-batches", b"\2" + p([tree[:3], tree[3:7], tree[7:], []]))
    write("transfer", "walk-str-names", b"\2" + p([("", 0, 0o755, None, 1), ("x", 1, 0o644, None, 2),
                                                 ("", 3, 0o755, None, 3)]))
    top = (b"", 0, 0o755, None, T)
    write("transfer", "walk-dotdot", b"\2" + p([top, (b"../outside/x", 1, 0o644, None, T)]))
    write("transfer", "walk-absolute", b"\2" + p([top, (b"/tmp/x", 0, 0o755, None, T)]))
    write("transfer", "walk-inner-dotdot",
          b"\2" + p([top, (b"a", 0, 0o755, None, T), (b"a/../../outside/y", 2, 0, b"z", T)]))
    write("transfer", "walk-through-link",
          b"\2" + p([top, (b"l", 2, 0, b"../outside", T), (b"l/x", 1, 0o644, None, T)]))
    write("transfer", "walk-nul", b"\2" + p([top, (b"a\0/../x", 0, 0o755, None, T)]))
    write("transfer", "walk-link-nul-target", b"\2" + p([top, (b"l", 2, 0, b"a\0b", T)]))
    write("transfer", "walk-top-not-first", b"\2" + p([(b"a", 0, 0o755, None, T)]))
    write("transfer", "walk-kind-large", b"\2" + p([top, (b"a", 2 ** 32 + 1, 0o644, None, T)]))
    write("transfer", "walk-mtime-inf", b"\2" + p([top, (b"", 3, 0o755, None, float("inf"))]))
    write("transfer", "walk-file-over-dir",
          b"\2" + p([top, (b"d", 0, 0o755, None, T), (b"d", 1, 0o644, None, T)]))


if __name__ == "__main__":
    channel_seeds()
    transfer_seeds()
