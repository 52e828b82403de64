#!/usr/bin/env python3
"""Reference matching, lathe against matchering, on the five corpus pairs of
docs/BENCHMARKS.md §3c: rounds interleaved (each pair: matchering, then every lathe build),
medians per pair and the ratio matchering / lathe.

    python3 bench/matching_pairs.py ROUNDS LATHE [LATHE…]

Needs the corpus (LATHE_CORPUS) and matchering in the Python that runs
bench/peers/matchering_master.py (LATHE_REF_PYTHON, else python3). lathe runs with
`--deliver wav:24 --max-boost-db 36 --max-cut-db 48`, as every matching benchmark since §3k.
"""
import collections
import glob
import os
import shutil
import statistics as st
import subprocess
import sys
import tempfile
import time

PAIRS = [("m01", "m03"), ("m02", "m01"), ("m03", "m04"), ("m04", "m05"), ("m05", "m02")]
HERE = os.path.dirname(os.path.abspath(__file__))


def timed(args):
    started = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, _ = os.wait4(child.pid, 0)
    if status != 0:
        sys.exit(f"{' '.join(args)} failed ({status})")
    return time.perf_counter() - started


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds, builds = int(sys.argv[1]), sys.argv[2:]
    corpus = os.environ.get("LATHE_CORPUS") or sys.exit("set LATHE_CORPUS")
    python = os.environ.get("LATHE_REF_PYTHON", "python3")
    mix = lambda m: glob.glob(f"{corpus}/public/mixes/{m}_*.wav")[0]
    work = tempfile.mkdtemp(prefix="lathe-matching-")
    times = collections.defaultdict(list)
    for r in range(rounds):
        for a, b in PAIRS:
            row = [f"round {r} {a} -> {b}:"]
            times[(a, b, "matchering")].append(timed(
                [python, f"{HERE}/peers/matchering_master.py", mix(a), mix(b), f"{work}/mg.wav"]))
            row.append(f"matchering {times[(a, b, 'matchering')][-1]:.2f} s")
            for lathe in builds:
                out = f"{work}/out"
                shutil.rmtree(out, ignore_errors=True)
                os.makedirs(out)
                times[(a, b, lathe)].append(timed(
                    [lathe, "master", mix(a), "--reference", mix(b), "--deliver", "wav:24",
                     "--max-boost-db", "36", "--max-cut-db", "48", "--out", out]))
                row.append(f"{lathe} {times[(a, b, lathe)][-1]:.3f} s")
            print(" ".join(row), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    for a, b in PAIRS:
        mg = st.median(times[(a, b, "matchering")])
        cells = [f"{lathe} {st.median(times[(a, b, lathe)]):.3f} s = "
                 f"{mg / st.median(times[(a, b, lathe)]):.1f}x" for lathe in builds]
        print(f"{a} -> {b}: matchering {mg:.2f} s; " + "; ".join(cells))


if __name__ == "__main__":
    main()
