#!/usr/bin/env python3
"""Start-up timings of several commands, interleaved: each round runs every command once, in an
order that rotates from round to round, so that a slow spell of the machine (another build, a
cron job) lands on all of them alike instead of on whichever hyperfine happened to be running.

    benches/interleave.py [--runs N] [--warmup N] [--json FILE] [--cwd DIR] NAME=CMD ...

CMD is split as the shell splits words (no shell runs: its start-up would be measured too).
Each run is timed from fork to exit with os.posix_spawn and os.wait4, stdout and stderr going
to /dev/null. Prints one line per command: median, interquartile range, the median's ratio to
the first command's, and the median count of minor page faults (what mapping and touching the
executable and its libraries costs the kernel, which an instruction count does not see). A command that exits non-zero stops the benchmark.
"""
import argparse
import json
import os
import shlex
import statistics
import sys
import time


def run_once(argv, devnull):
    start = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1),
                                       (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter_ns() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"interleave: {shlex.join(argv)} exited with {code}")
    return elapsed / 1e9, usage.ru_minflt


def resolve(word):
    if "/" in word:
        return os.path.abspath(word)
    for d in os.environ.get("PATH", "").split(":"):
        p = os.path.join(d, word)
        if os.access(p, os.X_OK):
            return p
    sys.exit(f"interleave: {word}: not found on PATH")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--json")
    ap.add_argument("--cwd")
    ap.add_argument("commands", nargs="+", metavar="NAME=CMD")
    args = ap.parse_args()
    cmds = []
    for spec in args.commands:
        name, sep, cmd = spec.partition("=")
        if not sep or not cmd:
            sys.exit(f"interleave: {spec!r}: expected NAME=CMD")
        argv = shlex.split(cmd)
        argv[0] = resolve(argv[0])
        cmds.append((name, argv))
    devnull = os.open(os.devnull, os.O_WRONLY)
    if args.cwd:
        os.chdir(args.cwd)
    times = [[] for _ in cmds]
    faults = [[] for _ in cmds]
    n = len(cmds)
    for r in range(args.warmup + args.runs):
        for k in range(n):
            i = (r + k) % n
            t, f = run_once(cmds[i][1], devnull)
            if r >= args.warmup:
                times[i].append(t)
                faults[i].append(f)
    base = statistics.median(times[0])
    out = []
    for (name, argv), ts, fs in zip(cmds, times, faults):
        q = statistics.quantiles(ts, n=4)
        med = statistics.median(ts)
        out.append({"name": name, "command": shlex.join(argv), "median": med,
                    "q1": q[0], "q3": q[2], "ratio": med / base, "times": ts,
                    "minor_faults": statistics.median(fs)})
        print(f"{name:<28} {med*1e3:9.3f} ms  IQR {q[0]*1e3:.3f}-{q[2]*1e3:.3f}  "
              f"x{med/base:.2f}  {statistics.median(fs):.0f} page faults")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": args.runs, "results": out}, f, indent=1)


if __name__ == "__main__":
    main()
