#!/usr/bin/env python3
"""Two builds of lathe on one job, alternating A B, B A, …: the medians of each build's wall
and CPU time and, what tells a small change from the machine's mood, the median of the
paired differences (B − A). Times come from os.wait4 (the child's own CPU).

    python3 bench/paired_runs.py PAIRS LATHE_A LATHE_B TARGET [REFERENCE|-] [-- LATHE_ARGS…]

Without a reference (`-`) the job is `lathe master TARGET --deliver wav:24 LATHE_ARGS`
(e.g. `-- --preset streaming`); with one it is a match, and LATHE_ARGS default to the
matching benchmarks' `--max-boost-db 36 --max-cut-db 48`.
"""
import os
import shutil
import statistics as st
import subprocess
import sys
import tempfile
import time


def run(lathe, args, out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    started = time.perf_counter()
    child = subprocess.Popen([lathe, *args, "--out", out],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        sys.exit(f"{lathe} {' '.join(args)} failed ({status})")
    return wall, usage.ru_utime + usage.ru_stime


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else None
    argv = argv[:argv.index("--")] if "--" in argv else argv
    if len(argv) < 4:
        sys.exit(__doc__)
    pairs, builds, target = int(argv[0]), argv[1:3], argv[3]
    reference = argv[4] if len(argv) > 4 and argv[4] != "-" else None
    args = ["master", target, "--deliver", "wav:24"]
    if reference:
        args += ["--reference", reference]
        args += extra if extra is not None else ["--max-boost-db", "36", "--max-cut-db", "48"]
    else:
        args += extra or []
    work = tempfile.mkdtemp(prefix="lathe-pairs-")
    times = {0: [], 1: []}
    for i in range(pairs):
        for k in ((0, 1) if i % 2 == 0 else (1, 0)):
            times[k].append(run(builds[k], args, f"{work}/out{k}"))
    shutil.rmtree(work, ignore_errors=True)
    a, b = times[0], times[1]
    med = lambda xs, j: st.median(x[j] for x in xs)
    diff = lambda j: st.median(y[j] - x[j] for x, y in zip(a, b))
    print(f"A wall {med(a, 0):.3f} s cpu {med(a, 1):.3f} s | B wall {med(b, 0):.3f} s "
          f"cpu {med(b, 1):.3f} s | B - A: wall {diff(0):+.3f} s, cpu {diff(1):+.3f} s "
          f"({pairs} pairs)")


if __name__ == "__main__":
    main()
