"""The context's side of examples/tail.c: each new line of path, sent on the channel
until the master closes it (the seeds' /var/log/messages example)."""
import time


def tail(channel, path):
    f = open(path)
    try:
        f.seek(0, 2)
        while channel.is_open():
            line = f.readline()
            if line:
                channel.send(line)
            else:
                time.sleep(0.2)
    finally:
        f.close()
