#!/usr/bin/env python3
# A hostile "python" for tests: started by the master in place of an interpreter, it
# reads the boot stream, takes the key from it (as any real context could), says
# ECREADY and a valid HELLO, then misbehaves as $EC_HOSTILE_MODE says, to show that
# the master refuses it with a clear error and survives.
import hmac, hashlib, os, re, struct, sys, time, zlib

def read_exact(n):
    b = b""
    while len(b) < n:
        c = os.read(0, n - len(b))
        if not c:
            sys.exit(1)
        b += c
    return b

src = zlib.decompress(read_exact(int(read_exact(10))), -15)
key = bytes.fromhex(re.search(rb"'key': '([0-9a-f]{64})'", src).group(1).decode())
cid = int(re.search(rb"'context_id': (\d+)", src).group(1))
mode = os.environ.get("EC_HOSTILE_MODE", "")
seq = {"C": 0, "M": 0}

def frame(handle, payload, reply_to=0, dst=0, src_id=None, bad_mac=False, seqno=None):
    hdr = struct.pack(">IIIII", dst, cid if src_id is None else src_id, handle, reply_to, len(payload))
    n = seq["C"] if seqno is None else seqno
    mac = hmac.new(key, b"C" + struct.pack(">Q", n) + hdr + payload, hashlib.sha256).digest()
    if seqno is None:
        seq["C"] += 1
    if bad_mac:
        mac = bytes([mac[0] ^ 1]) + mac[1:]
    return hdr + payload + mac

chains = {}

def content(handle, payload, digest=None):
    """A content frame (docs/protocol.md 2): its MAC over the handle's chain's digest
    (or over digest, when given: a chain that lies)."""
    chain = chains.setdefault(handle, hashlib.sha256())
    chain.update(payload)
    hdr = struct.pack(">IIIII", 0, cid, handle, 5, len(payload))
    mac = hmac.new(key, b"C" + struct.pack(">Q", seq["C"]) + hdr + (digest or chain.digest()),
                   hashlib.sha256).digest()
    seq["C"] += 1
    return hdr + payload + mac

def read_frame(with_payload=False):
    hdr = read_exact(20)
    dst, s, handle, reply_to, length = struct.unpack(">IIIII", hdr)
    payload = read_exact(length + 32)[:length]
    return (handle, reply_to, payload) if with_payload else (handle, reply_to)

hello = (b"\x80\x02}q\x00(X\x07\x00\x00\x00versionq\x01X\x05\x00\x00\x003.0.0q\x02X\x03\x00\x00\x00pidq\x03J"
         + struct.pack("<i", os.getpid()) + b"u.")
os.write(1, b"ECREADY\n")
if mode == "badmac-hello":
    os.write(1, frame(1, hello, bad_mac=True))
    time.sleep(30)
    sys.exit(0)
first = frame(1, hello)
os.write(1, first)
handle, reply_to, payload = read_frame(True)  # the CALL, or a CHANNEL_OPEN before it
chan = None
if handle == 8:
    import pickle
    chan = pickle.loads(payload)[0]
    handle, reply_to = read_frame()
if mode == "badmac":
    os.write(1, frame(reply_to, b"\x80\x02N.", bad_mac=True))
elif mode == "replay":
    os.write(1, first)
elif mode == "oversize":
    os.write(1, struct.pack(">IIIII", 0, cid, reply_to, 0, 0xFFFFFFF0))
elif mode == "unknown-handle":
    os.write(1, frame(77, b"\x80\x02N."))
elif mode == "replies-cut":
    # REPLIES whose one reply claims more bytes than the frame holds
    os.write(1, frame(9, struct.pack(">II", reply_to, 99) + b"\x80\x02N."))
elif mode == "replies":
    # a well-formed REPLIES: the call's reply (7), then another to it (dropped: taken)
    os.write(1, frame(9, struct.pack(">II", reply_to, 5) + b"\x80\x02K\x07." +
                      struct.pack(">II", reply_to, 4) + b"\x80\x02N."))
elif mode == "wrong-source":
    os.write(1, frame(reply_to, b"\x80\x02N.", src_id=cid + 5))
elif mode == "evil-pickle":
    os.write(1, frame(reply_to, b"cos\nsystem\n(S'echo pwned'\ntR."))
elif mode == "truncated-pickle":
    os.write(1, frame(reply_to, b"\x80\x02]q\x00(K\x01K\x02"))
elif mode == "channel-flood" and chan:
    # Values of 1 MiB on the channel, none acknowledged: the fifth is past the window.
    for i in range(6):
        os.write(1, frame(chan, b"\x80\x02N." + b"x" * (1 << 20), reply_to=1))
elif mode == "channel-after-close" and chan:
    os.write(1, frame(chan, b"\x80\x02N.", reply_to=2))
    os.write(1, frame(chan, b"\x80\x02N.", reply_to=1))
elif mode == "content-no-channel":
    # content on the call's reply handle: a handle that takes none
    os.write(1, content(reply_to, b"x" * 100))
elif mode == "content-bad-chain" and chan:
    # the first frame right, the second's MAC over its own bytes only (a chain restarted:
    # a frame dropped or swapped between two that each verify alone)
    os.write(1, content(chan, b"a" * 300000))
    os.write(1, content(chan, b"b" * 1000, digest=hashlib.sha256(b"b" * 1000).digest()))
elif mode == "content-tampered" and chan:
    f = bytearray(content(chan, b"c" * 300000))
    f[20 + 150000] ^= 1
    os.write(1, bytes(f))
elif mode == "module-flood":
    # GET_MODULE after GET_MODULE, reading no answer: the master must not hold them all.
    for i in range(40000):
        name = ("m%d" % i).encode()
        os.write(1, frame(5, b"\x80\x02X" + struct.pack("<I", len(name)) + name + b"q\x00."))
    time.sleep(30)
    sys.exit(0)
elif mode == "linger":
    # Close the stream (fds 0, 1 and 2 are all of it) and stay: only a signal ends us.
    for fd in (0, 1, 2):
        os.close(fd)
    time.sleep(60)
    sys.exit(0)
# Stay until the master closes the stream.
while os.read(0, 65536):
    pass
