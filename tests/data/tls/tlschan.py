"""For tests/test_tls.c: a channel echoed across the lazy switch. Imports nothing but
econtext (the core's), so that its import is one round trip: no pause in which the
context's relay, idle, would set up TLS before the values stream."""
import econtext


def echo_states(ch):
    """Each value the master sends, back with where the frames went when it came
    (econtext.connect_back_state); their count."""
    n = 0
    for v in ch:
        ch.send([v, econtext.connect_back_state()])
        n += 1
    return n
