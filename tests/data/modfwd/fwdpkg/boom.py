def fail():
    x = 1
    raise ValueError('forwarded failure %d' % x)  # the line a traceback must show
