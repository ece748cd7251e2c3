"""For bench/channel.c: n values of size bytes sent on a channel."""


def produce(ch, n, size):
    block = b"x" * size
    send = ch.send
    for _ in range(n):
        send(block)
    return n
