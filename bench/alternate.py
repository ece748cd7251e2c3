#!/usr/bin/env python3
"""Time commands in alternation: A B C A B C ... (hyperfine runs each command's runs
back to back, so a slow minute of this shared VM lands on one of them).

    python3 bench/alternate.py [--runs N] [--warmup N] CMD [CMD...]

Each CMD is one argument, split on spaces (no shell). Prints, per command, the
median, quartiles and mean wall time in ms over N runs (after the warm-up rounds).
The time includes the fork and exec of the command from Python (~1 ms, the same for
every command). Not a test: timings decide nothing."""
import argparse
import statistics
import subprocess
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("cmds", nargs="+")
    args = ap.parse_args()
    argvs = [c.split() for c in args.cmds]
    times = [[] for _ in argvs]
    for i in range(args.warmup + args.runs):
        for argv, ts in zip(argvs, times):
            t0 = time.perf_counter()
            rc = subprocess.call(argv, stdout=subprocess.DEVNULL)
            dt = (time.perf_counter() - t0) * 1e3
            if rc:
                raise SystemExit("exit status %d: %s" % (rc, " ".join(argv)))
            if i >= args.warmup:
                ts.append(dt)
    for cmd, ts in zip(args.cmds, times):
        q = statistics.quantiles(ts, n=4)
        print("median %7.2f ms  p25 %7.2f  p75 %7.2f  mean %7.2f  %s"
              % (statistics.median(ts), q[0], q[2], statistics.mean(ts), cmd))


if __name__ == "__main__":
    main()
