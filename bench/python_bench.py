#!/usr/bin/env python3
"""Time the Python module econtext the way Mitogen's anchors time Mitogen
(../shared/anchors/mitogen_bench.py), for docs/benchmarks.md. Not a test.

    python3 bench/python_bench.py rtt [-n 5000]        sequential ctx.call(noop) round trip
    python3 bench/python_bench.py pipelined [-n 5000]  n call_async(noop) in flight, then results
    python3 bench/python_bench.py fanout [-n 100]      connect n local contexts, call each once
    python3 bench/python_bench.py boot                 import econtext + one local call (whole
                                                       process: time it from outside)

--python: the context's interpreter (default: this one). Run uninstalled with
PYTHONPATH=python/.libs LD_LIBRARY_PATH=core/.libs ECONTEXT_CONFIG=/dev/null.
"""
import argparse
import os
import statistics
import sys
import time

T0 = time.perf_counter()
import econtext  # noqa: E402


def noop():
    return None


def mode_rtt(m, args):
    n = args.n or 5000
    with m.connect("local", python=args.python) as ctx:
        for _ in range(200):
            ctx.call(noop)
        lat = []
        pc = time.perf_counter
        t0 = pc()
        for _ in range(n):
            t = pc()
            ctx.call(noop)
            lat.append(pc() - t)
        total = pc() - t0
    lat.sort()
    print("econtext python: ctx.call(noop) x %d: median %.1f us, p10 %.1f, p90 %.1f, total/N %.1f us"
          % (n, statistics.median(lat) * 1e6, lat[n // 10] * 1e6, lat[n * 9 // 10] * 1e6, total / n * 1e6))


def mode_pipelined(m, args):
    n = args.n or 5000
    with m.connect("local", python=args.python) as ctx:
        for _ in range(200):
            ctx.call(noop)
        t0 = time.perf_counter()
        calls = [ctx.call_async(noop) for _ in range(n)]
        for c in calls:
            c.result()
        dt = time.perf_counter() - t0
    print("econtext python: %d x call_async(noop) then result(): %.1f us/call (%.0f calls/s)"
          % (n, dt / n * 1e6, n / dt))


def mode_fanout(m, args):
    n = args.n or 100
    t0 = time.perf_counter()
    pending = [m.connect_async("c%d" % i, transport="local", python=args.python) for i in range(n)]
    calls, ctxs = [], []
    while pending or calls:
        for item in econtext.select(pending + calls, timeout=120):
            if isinstance(item, econtext.Connect):
                pending.remove(item)
                ctx = item.result()
                ctxs.append(ctx)
                calls.append(ctx.call_async(os.getpid))
            else:
                calls.remove(item)
                item.result()
    t1 = time.perf_counter()
    for c in ctxs:
        c.shutdown()
    t2 = time.perf_counter()
    print("econtext python: %d local contexts, connect + one call each: %.2f s (shutdown %.2f s)"
          % (n, t1 - t0, t2 - t1))


def mode_boot(m, args):
    with m.connect("local", python=args.python) as ctx:
        ctx.call(os.getpid)
    print("econtext python: import + connect + call, in process: %.1f ms" % ((time.perf_counter() - T0) * 1e3))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=["rtt", "pipelined", "fanout", "boot"])
    p.add_argument("-n", type=int, default=None)
    p.add_argument("--python", default=sys.executable)
    args = p.parse_args()
    with econtext.Master() as m:
        globals()["mode_" + args.mode](m, args)


if __name__ == "__main__":
    main()
