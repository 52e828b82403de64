#!/usr/bin/env python3
"""Two builds of lathe side by side on the same jobs, alternating, to tell a code change's
effect on speed from the machine's mood: a warm-up round, then the median of N rounds each.

    python3 bench/compare_builds.py OLD_LATHE NEW_LATHE [ROUNDS]

Build the old one from a checkout of the commit before (`git worktree add /tmp/old COMMIT &&
CARGO_TARGET_DIR=/tmp/old-target cargo build --release -p lathe-cli` there). Needs the corpus
(LATHE_CORPUS, as the tests do) and sox. Jobs: the §3 3-minute track to wav:24, the six s02
stems with two locked versions, and the five §3c matching pairs.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    old, new = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    corpus = os.environ.get("LATHE_CORPUS") or sys.exit("set LATHE_CORPUS")
    mixes, stems_dir = f"{corpus}/public/mixes", f"{corpus}/public/stems/s02_freedoom_d_doom2"
    work = tempfile.mkdtemp(prefix="lathe-builds-")
    t3 = f"{work}/track3min_44k1_24b.wav"
    subprocess.run(["sox", f"{mixes}/m01_hyperrogue_graveyard_44k1.wav",
                    f"{mixes}/m02_hyperrogue_domina_mountain_44k1.wav", "-b", "24", t3, "trim", "0", "180"],
                   check=True)
    m = {k: f"{mixes}/{f}" for k, f in [
        ("m01", "m01_hyperrogue_graveyard_44k1.wav"), ("m02", "m02_hyperrogue_domina_mountain_44k1.wav"),
        ("m03", "m03_singularity_apex_aleph_48k.wav"), ("m04", "m04_nexuiz_brokenlight_excerpt_44k1.wav"),
        ("m05", "m05_frozenbubble_2p_module_44k1.wav")]}
    stems = [f"{stems_dir}/{n}.wav" for n in ["bass", "choir_fx", "drums", "guitars", "orchestra", "synth_lead"]]
    jobs = {
        "master 3 min wav:24": ["master", t3, "--deliver", "wav:24"],
        "stems 6 + 2 locked versions": ["master", "--stems", *stems, "--deliver", "wav:24",
                                        "--version", "instrumental:mute=synth_lead",
                                        "--version", "acappella:only=synth_lead"],
    }
    for a, b in [("m01", "m03"), ("m02", "m01"), ("m03", "m04"), ("m04", "m05"), ("m05", "m02")]:
        jobs[f"match {a} → {b}"] = ["master", m[a], "--reference", m[b], "--deliver", "wav:24",
                                      "--max-boost-db", "36", "--max-cut-db", "48"]
    times = {(j, w): [] for j in jobs for w in ("old", "new")}
    for r in range(rounds + 1):
        for j, args in jobs.items():
            for w, exe in (("old", old), ("new", new)):
                t = time.perf_counter()
                p = subprocess.run([exe, *args, "-o", f"{work}/out", "--force"], capture_output=True)
                dt = time.perf_counter() - t
                if p.returncode not in (0, 1):
                    sys.exit(f"{w} failed on {j}: {p.stderr.decode()[-400:]}")
                if r > 0:
                    times[(j, w)].append(dt)
    print("| job | old s | new s | new/old |\n|---|---|---|---|")
    for j in jobs:
        o, n = statistics.median(times[(j, "old")]), statistics.median(times[(j, "new")])
        print(f"| {j} | {o:.2f} | {n:.2f} | {n / o:.3f} |")


if __name__ == "__main__":
    main()
