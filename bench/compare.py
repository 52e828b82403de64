#!/usr/bin/env python3
"""Runs the benchmark jobs and writes docs/BENCHMARKS.md. Called by bench/run.sh.

Every job: a warm-up run, then N rounds in which each tool runs once, in turn (interleaved, so
drift in machine load hits every tool alike); the median wall time, the median CPU time
(user+sys) and the peak resident memory come from /usr/bin/time.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ["LATHE_CACHE"])
CORPUS = Path(os.environ["LATHE_CORPUS"]) / "public"
PY = sys.executable
LATHE = str(ROOT / "target/release/lathe")
WORK = CACHE / "bench"


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def timed(cmd):
    """Runs cmd under /usr/bin/time; returns (wall s, cpu s, peak KiB, stdout)."""
    r = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %S %M"] + cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {r.stderr[-2000:]}")
    m = re.search(r"TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", r.stderr)
    wall, user, sys_, rss = float(m[1]), float(m[2]), float(m[3]), int(m[4])
    return wall, user + sys_, rss, r.stdout


def bench(tools, rounds):
    """tools: {name: cmd}. Returns {name: dict(wall, cpu, rss_mib, stdout)}."""
    for cmd in tools.values():
        timed(cmd)  # warm-up (page cache, lazy loading)
    runs = {n: [] for n in tools}
    for _ in range(rounds):
        for n, cmd in tools.items():
            runs[n].append(timed(cmd))
    return {
        n: dict(
            wall=statistics.median(r[0] for r in rs),
            cpu=statistics.median(r[1] for r in rs),
            rss_mib=max(r[2] for r in rs) / 1024,
            stdout=rs[-1][3],
        )
        for n, rs in runs.items()
    }


def hand_sections(path):
    """The `## ` sections of `path` whose heading says "measured by hand", as lines."""
    if not path.exists():
        return []
    kept, keep = [], False
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            keep = "measured by hand" in line
        if keep:
            kept.append(line)
    return kept


def make_inputs(quick):
    WORK.mkdir(parents=True, exist_ok=True)
    mixes = CORPUS / "mixes"
    t3 = WORK / "track3min_44k1_24b.wav"
    if not t3.exists():
        sh(["sox", str(mixes / "m01_hyperrogue_graveyard_44k1.wav"),
            str(mixes / "m02_hyperrogue_domina_mountain_44k1.wav"), "-b", "24", str(t3), "trim", "0", "180"])
    t60 = WORK / "track60min_44k1_24b.wav"
    if not quick and not t60.exists():
        sh(["sox", str(t3), str(t60), "repeat", "19"])
    return t3, t60


PYEBUR128 = textwrap.dedent("""
    import sys, numpy as np, soundfile as sf, pyebur128 as p
    f = sf.SoundFile(sys.argv[1])
    m = p.R128State(f.channels, f.samplerate, p.MeasurementMode.MODE_I | p.MeasurementMode.MODE_LRA | p.MeasurementMode.MODE_TRUE_PEAK)
    for b in f.blocks(blocksize=65536, dtype='float64', always_2d=True):
        m.add_frames(np.ascontiguousarray(b).flatten(), b.shape[0])
    tp = max(p.get_true_peak(m, c) for c in range(f.channels))
    print(p.get_loudness_global(m), p.get_loudness_range(m), 20 * np.log10(tp))
""")

PYLOUDNORM = textwrap.dedent("""
    import sys, soundfile as sf, pyloudnorm as pyln
    x, rate = sf.read(sys.argv[1])
    meter = pyln.Meter(rate, filter_class="DeMan")
    print(meter.integrated_loudness(x))
""")


def metering_job(t3, rounds):
    script_eb = WORK / "pyebur128_meter.py"
    script_eb.write_text(PYEBUR128)
    script_ln = WORK / "pyloudnorm_meter.py"
    script_ln.write_text(PYLOUDNORM)
    tools = {
        "lathe analyze": [LATHE, "analyze", "--json", str(t3)],
        "ffmpeg ebur128=peak=true": ["ffmpeg", "-nostats", "-hide_banner", "-i", str(t3), "-af",
                                     "ebur128=peak=true", "-f", "null", "-"],
        "pyebur128 (I+LRA+TP)": [PY, str(script_eb), str(t3)],
        "pyloudnorm (I only)": [PY, str(script_ln), str(t3)],
    }
    res = bench(tools, rounds)
    lathe = json.loads(res["lathe analyze"]["stdout"])[0]
    ref = json.loads(sh([PY, str(ROOT / "tools/reference_meter.py"), str(t3)]).stdout)[0]
    eb = res["pyebur128 (I+LRA+TP)"]["stdout"].split()
    readings = {
        "lathe analyze": (lathe["integrated_lufs"], lathe["lra_lu"], lathe["true_peak_dbtp"], "8x + parabolic"),
        "pyebur128 (I+LRA+TP)": (float(eb[0]), float(eb[1]), float(eb[2]), "4x (libebur128)"),
        "pyloudnorm (I only)": (float(res["pyloudnorm (I only)"]["stdout"].split()[0]), None, None, "-"),
        "ffmpeg ebur128=peak=true": (None, None, None, "4x"),
    }
    return res, readings, ref


def long_file_job(t60):
    wall, cpu, rss, _ = timed([LATHE, "analyze", "--json", str(t60)])
    return wall, cpu, rss / 1024


def long_file_job_master(t60):
    wall, cpu, rss, _ = timed([LATHE, "master", str(t60), "-o", str(WORK / "master_out_60"), "--deliver", "wav:24", "--force"])
    return wall, cpu, rss / 1024


def master_job(t3, rounds):
    """The stereo master job side by side: lathe (preset streaming, one 24-bit WAV), ffmpeg with
    the same high-pass and compressor plus two-pass loudnorm, matchering against a corpus mix."""
    out = WORK / "master_out"
    lathe_cmd = [LATHE, "master", str(t3), "-o", str(out), "--deliver", "wav:24", "--force"]
    timed(lathe_cmd)
    rep = json.loads((out / "report.json").read_text())
    comp = next(p["compressor"] for p in rep["chain"] if "compressor" in p)
    ff_out, mg_out = WORK / "ffmpeg_master.wav", WORK / "matchering_master.wav"
    sox_out, pb_out = WORK / "sox_master.wav", WORK / "pedalboard_master.wav"
    reference = CORPUS / "mixes" / "m04_nexuiz_brokenlight_excerpt_44k1.wav"
    tools = {
        "lathe master": lathe_cmd,
        "ffmpeg chain + two-pass loudnorm": ["bash", str(ROOT / "bench/peers/ffmpeg_master.sh"), str(t3),
                                             str(ff_out), str(comp["threshold_db"])],
        "matchering 2.0.6 (reference: m04)": [PY, str(ROOT / "bench/peers/matchering_master.py"), str(t3),
                                              str(reference), str(mg_out)],
        "sox chain + libebur128 gain": [PY, str(ROOT / "bench/peers/sox_master.py"), str(t3), str(sox_out),
                                        str(comp["threshold_db"])],
        "pedalboard chain + pyloudnorm, two passes": [PY, str(ROOT / "bench/peers/pedalboard_master.py"), str(t3),
                                                      str(pb_out), str(comp["threshold_db"])],
    }
    res = bench(tools, rounds)
    lathe_file = out / Path(rep["deliverables"][0]["path"]).name
    files = {"lathe master": lathe_file, "ffmpeg chain + two-pass loudnorm": ff_out,
             "matchering 2.0.6 (reference: m04)": mg_out, "sox chain + libebur128 gain": sox_out,
             "pedalboard chain + pyloudnorm, two passes": pb_out}
    meas = json.loads(sh([PY, str(ROOT / "tools/reference_meter.py")] + [str(f) for f in files.values()]).stdout)
    ref_level = json.loads(sh([PY, str(ROOT / "tools/reference_meter.py"), str(reference)]).stdout)[0]
    quality = {n: m for n, m in zip(files, meas)}
    return res, quality, rep, comp, ref_level


STEM_NAMES = ["bass", "choir_fx", "drums", "guitars", "orchestra", "synth_lead"]


def make_stems():
    """Six 3-minute stems: corpus stem set s02 (40 s each, 16-bit) looped, written 24-bit."""
    out = WORK / "stems6"
    out.mkdir(parents=True, exist_ok=True)
    src = CORPUS / "stems" / "s02_freedoom_d_doom2"
    files = []
    for n in STEM_NAMES:
        f = out / f"{n}.wav"
        if not f.exists():
            sh(["sox", str(src / f"{n}.wav"), "-b", "24", str(f), "repeat", "4", "trim", "0", "180"])
        files.append(f)
    return files


def stems_job(rounds):
    """Stem mastering: lathe with 1, 2, 4 and 6 stems; ffmpeg amix + chain + loudnorm on 6."""
    files = make_stems()
    out = WORK / "stems_out"
    tools = {}
    for k in (1, 2, 4, 6):
        tools[f"lathe master --stems ({k})"] = [LATHE, "master", "--stems"] + [str(f) for f in files[:k]] + [
            "-o", str(out / str(k)), "--deliver", "wav:24", "--force"]
    timed(tools["lathe master --stems (6)"])
    rep = json.loads((out / "6" / "report.json").read_text())
    comp = next(p["compressor"] for p in rep["chain"] if "compressor" in p)
    ff_out = WORK / "ffmpeg_stems.wav"
    tools["ffmpeg amix + chain + two-pass loudnorm (6)"] = [
        "bash", str(ROOT / "bench/peers/ffmpeg_stems.sh"), str(ff_out), str(comp["threshold_db"])] + [str(f) for f in files]
    res = bench(tools, rounds)
    lathe_file = out / "6" / Path(rep["deliverables"][0]["path"]).name
    meas = json.loads(sh([PY, str(ROOT / "tools/reference_meter.py"), str(lathe_file), str(ff_out)]).stdout)
    return res, {"lathe master --stems (6)": meas[0], "ffmpeg amix + chain + two-pass loudnorm (6)": meas[1]}


VERSION_ARGS = ["--version", "instrumental:mute=synth_lead", "--version", "acappella:only=synth_lead",
                "--version", "tv:mute=synth_lead:gain=choir_fx=3"]


def versions_job(rounds):
    """Alternate versions: the 6-stem master alone, and with three locked versions
    (instrumental, a cappella, TV mix), each delivered as 24-bit WAV."""
    files = [str(f) for f in make_stems()]
    out = WORK / "versions_out"
    tools = {
        "main master alone": [LATHE, "master", "--stems"] + files + [
            "-o", str(out / "main"), "--deliver", "wav:24", "--force"],
        "main + 3 locked versions": [LATHE, "master", "--stems"] + files + [
            "-o", str(out / "v3"), "--deliver", "wav:24", "--force"] + VERSION_ARGS,
    }
    res = bench(tools, rounds)
    rep = json.loads((out / "v3" / "report.json").read_text())
    return res, rep


def long_master_96k():
    """A 60-minute 96 kHz 24-bit file mastered: time and peak memory."""
    t = WORK / "track60min_96k_24b.wav"
    if not t.exists():
        sh(["sox", str(WORK / "track3min_44k1_24b.wav"), "-b", "24", "-r", "96000", str(t), "repeat", "19"])
    wall, cpu, rss, _ = timed([LATHE, "master", str(t), "-o", str(WORK / "master_out_60_96k"), "--deliver", "wav:24", "--force"])
    return wall, cpu, rss / 1024


MATCH_PAIRS = [
    ("m01_hyperrogue_graveyard_44k1", "m03_singularity_apex_aleph_48k"),
    ("m02_hyperrogue_domina_mountain_44k1", "m01_hyperrogue_graveyard_44k1"),
    ("m03_singularity_apex_aleph_48k", "m04_nexuiz_brokenlight_excerpt_44k1"),
    ("m04_nexuiz_brokenlight_excerpt_44k1", "m05_frozenbubble_2p_module_44k1"),
    ("m05_frozenbubble_2p_module_44k1", "m02_hyperrogue_domina_mountain_44k1"),
]


def matching_job(rounds, quick):
    """Reference matching on corpus pairs (each mix matched to the next, a ring): lathe
    (`--reference`, amount 1, default limits, 24-bit WAV) against matchering 2.0.6 (24-bit WAV);
    whole-process time and memory, spectral distance to the reference (tools/spectral_distance.py),
    loudness and true peak (tools/reference_meter.py)."""
    pairs = MATCH_PAIRS[:3] if quick else MATCH_PAIRS
    rows = []
    for target, reference in pairs:
        t = CORPUS / "mixes" / f"{target}.wav"
        r = CORPUS / "mixes" / f"{reference}.wav"
        out = WORK / "match_out" / target
        mg_out = WORK / f"matchering_{target}.wav"
        tools = {
            # The wide limits: matchering matches fully, and so does lathe with these flags
            # (its defaults stop at 12 dB of boost and 24 dB of cut).
            "lathe": [LATHE, "master", str(t), "--reference", str(r), "-o", str(out), "--deliver", "wav:24",
                      "--max-boost-db", "36", "--max-cut-db", "48", "--force"],
            "matchering": [PY, str(ROOT / "bench/peers/matchering_master.py"), str(t), str(r), str(mg_out)],
        }
        res = bench(tools, rounds)
        rep = json.loads((out / "report.json").read_text())
        lathe_out = out / Path(rep["deliverables"][0]["path"]).name
        d = json.loads(sh([PY, str(ROOT / "tools/spectral_distance.py"), str(t), str(r), str(lathe_out), str(r),
                           str(mg_out), str(r)]).stdout)
        m = json.loads(sh([PY, str(ROOT / "tools/reference_meter.py"), str(r), str(lathe_out), str(mg_out)]).stdout)
        rows.append(dict(target=target, reference=reference, res=res, rep=rep,
                         dist=[x["distance_db"] for x in d], levels=m))
    return rows


def criterion_table(path):
    if not path or not Path(path).exists():
        return None
    rows = []
    name = None
    for line in Path(path).read_text().splitlines():
        if line.startswith(("meters_1s_stereo_48k/", "processors_1s_stereo_48k/")):
            name = line.split("/", 1)[1].split()[0]
        m = re.search(r"time:\s+\[\S+ \S+ ([\d.]+) (\S+)", line)
        if m and name:
            val, unit = float(m[1]), m[2]
            us = val * {"ns": 1e-3, "µs": 1, "us": 1, "ms": 1e3, "s": 1e6}[unit]
            rows.append((name, us * 1000 / 48000, 1e6 / us))
            name = None
    return rows


def fmt(v, d=2):
    return "-" if v is None else f"{v:.{d}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", type=int, default=0)
    ap.add_argument("--criterion")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rounds = 3 if a.quick else 5
    t3, t60 = make_inputs(a.quick)
    res, readings, ref = metering_job(t3, rounds)
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    versions = {
        "lathe": sh([LATHE, "--version"]).stdout.strip(),
        "ffmpeg": sh(["ffmpeg", "-version"]).stdout.splitlines()[0],
        "pyebur128": "pyebur128 " + sh([PY, "-c", "import importlib.metadata as m; print(m.version('pyebur128'))"]).stdout.strip(),
        "pyloudnorm": "pyloudnorm " + sh([PY, "-c", "import importlib.metadata as m; print(m.version('pyloudnorm'))"]).stdout.strip(),
        "matchering": "matchering " + sh([PY, "-c", "import importlib.metadata as m; print(m.version('matchering'))"]).stdout.strip(),
        "pedalboard": "pedalboard " + sh([PY, "-c", "import importlib.metadata as m; print(m.version('pedalboard'))"]).stdout.strip(),
        "sox": sh(["sox", "--version"]).stdout.strip().replace("sox:      ", ""),
        "rustc": sh(["rustc", "--version"]).stdout.strip(),
    }
    lines = []
    w = lines.append
    w("# Benchmarks")
    w("")
    w("Written by `bench/run.sh` (do not edit by hand). Re-run it to reproduce: it installs the peers,")
    w("builds the corpus and lathe, and rewrites this file, keeping the sections measured by hand.")
    w("")
    w(f"- Machine: {os.cpu_count()} cores, {cpu_model}, {platform.system()} {platform.release()}")
    w("- Versions: " + "; ".join(versions.values()))
    w(f"- Mode: {'quick (3 rounds, no 60-minute file, no criterion)' if a.quick else 'full (5 rounds)'}")
    w("")
    w("## 1. Metering a 3-minute track")
    w("")
    w(f"Input: `{t3.name}`, 180 s of corpus music (m01 + m02, 44.1 kHz, 24-bit stereo).")
    w("Wall and CPU are medians of the interleaved rounds; memory is peak RSS.")
    w("Reference readings (`tools/reference_meter.py`: libebur128 I/LRA, 16x FFT-interpolated true peak):")
    w(f"I {ref['integrated_lufs']:.3f} LUFS, LRA {ref['lra_lu']:.2f} LU (libebur128 1 Hz), TP {ref['true_peak_dbtp']:.3f} dBTP.")
    w("")
    w("| tool | wall s | CPU s | peak MiB | time / lathe time | I LUFS | LRA LU | TP dBTP (oversampling) |")
    w("|---|---|---|---|---|---|---|---|")
    base = res["lathe analyze"]["wall"]
    for n, r in res.items():
        i, lra, tp, os_ = readings[n]
        w(f"| {n} | {r['wall']:.3f} | {r['cpu']:.3f} | {r['rss_mib']:.1f} | {r['wall'] / base:.2f}x | {fmt(i, 3)} | {fmt(lra)} | {fmt(tp, 3)} ({os_}) |")
    w("")
    w("lathe computes I, LRA (10 Hz and 1 Hz), M/S maxima, 8x true peak, DC, correlation, clipping and")
    w("the 1/3-octave spectrum in that time; ffmpeg's reading is not parsed (it prints to stderr).")
    w("")
    if not a.quick:
        wall, cpu, rss = long_file_job(t60)
        w("## 2. Metering a 60-minute file (bounded memory)")
        w("")
        w(f"`{t60.name}` (the 3-minute track repeated 20 times, 952 MB): wall {wall:.2f} s, CPU {cpu:.2f} s,")
        w(f"peak memory {rss:.1f} MiB (3-minute file: {res['lathe analyze']['rss_mib']:.1f} MiB).")
        w("")
    w("## 3. Stereo master of a 3-minute track: lathe vs ffmpeg, matchering, sox and pedalboard")
    w("")
    mres, quality, rep, comp, ref_level = master_job(t3, rounds)
    w("The job: master the 3-minute track to −14 LUFS with a −1 dBTP ceiling, deliver a 24-bit WAV.")
    w("lathe: `lathe master IN --deliver wav:24` (preset streaming: 20 Hz high-pass, 1.5:1 RMS glue")
    w(f"compressor at {comp['threshold_db']} dB, true-peak limiter). ffmpeg: the same high-pass and compressor settings")
    w("(`acompressor`), then `loudnorm` in two passes (linear mode with the first pass's measurements),")
    w("resampled back from loudnorm's 192 kHz (`bench/peers/ffmpeg_master.sh`). matchering has no")
    w("loudness target or true-peak ceiling: it matches a reference (corpus m04, "
      f"{ref_level['integrated_lufs']:.1f} LUFS) and limits sample peaks at 0 dBFS, so its time is")
    w("comparable but its levels are not (`bench/peers/matchering_master.py`). sox: the same high-pass")
    w("and a 1.5:1 `compand`, loudness measured by libebur128 (sox has no meter), one gain to −14 LUFS;")
    w("sox has no true-peak limiter (`bench/peers/sox_master.py`). pedalboard: the same high-pass, JUCE's")
    w("compressor, a gain and JUCE's limiter at −1 dB (sample peaks, with its own make-up gain), the")
    w("gain corrected once with pyloudnorm (`bench/peers/pedalboard_master.py`).")
    w("Loudness and true peak of every output by the independent reference meter (libebur128, 16x FFT).")
    w("")
    w("| tool | wall s | CPU s | peak MiB | peer time / lathe time | I LUFS (target −14) | TP dBTP (ceiling −1) |")
    w("|---|---|---|---|---|---|---|")
    base = mres["lathe master"]["wall"]
    for n, r in mres.items():
        q = quality[n]
        w(f"| {n} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss_mib']:.1f} | {r['wall'] / base:.2f}x | {q['integrated_lufs']:.2f} | {q['true_peak_dbtp']:.2f} |")
    w("")
    ratio_ff = mres["ffmpeg chain + two-pass loudnorm"]["wall"] / base
    ratio_mg = mres["matchering 2.0.6 (reference: m04)"]["wall"] / base
    pass_times = ", ".join("%.2f" % p["elapsed_s"] for p in rep["passes"])
    w(f"lathe: {len(rep['passes'])} render passes ({pass_times} s), "
      f"{180 / base:.0f}x realtime. Goal (issue 4): 10x ffmpeg, 5x matchering, ≤ 64 MiB.")
    for n, r in mres.items():
        q = quality[n]
        if n != "lathe master" and r["wall"] < base:
            missed = []
            if abs(q["integrated_lufs"] + 14.0) > 0.1:
                missed.append(f"misses −14 LUFS ({q['integrated_lufs']:.2f})")
            if q["true_peak_dbtp"] > -1.0:
                missed.append(f"goes over the −1 dBTP ceiling ({q['true_peak_dbtp']:+.2f} dBTP)")
            w(f"**lathe loses on time to {n}**: {r['wall']:.2f} s against {base:.2f} s. "
              + (f"Its output {' and '.join(missed)}." if missed else "Its output meets both targets."))
    w(f"Measured: {ratio_ff:.1f}x ffmpeg ({'met' if ratio_ff >= 10 else '**not met**'}), "
      f"{ratio_mg:.1f}x matchering ({'met' if ratio_mg >= 5 else '**not met**'}), "
      f"{mres['lathe master']['rss_mib']:.1f} MiB ({'met' if mres['lathe master']['rss_mib'] <= 64 else '**not met**'}).")
    if not a.quick:
        wall, cpu, rss = long_file_job_master(t60)
        w(f"60-minute file (44.1 kHz): wall {wall:.1f} s, CPU {cpu:.1f} s, peak memory {rss:.1f} MiB.")
        wall, cpu, rss = long_master_96k()
        w(f"60-minute file at 96 kHz: wall {wall:.1f} s, CPU {cpu:.1f} s, peak memory {rss:.1f} MiB "
          f"({'within' if rss <= 64 else '**over**'} the 64 MiB goal).")
    w("")
    w("## 3b. Stem master: 6 stems × 3 minutes, and how the time scales with stems")
    w("")
    sres, squal = stems_job(rounds)
    w("Stems: corpus set s02 (bass, choir/fx, drums, guitars, orchestra, synth lead), each looped to")
    w("180 s, 44.1 kHz 24-bit. lathe: `lathe master --stems ... --deliver wav:24` (plain stems, the")
    w("streaming chain on the sum). ffmpeg: `amix` (normalize=0) then the same high-pass, compressor")
    w("and two-pass loudnorm (`bench/peers/ffmpeg_stems.sh`).")
    w("")
    w("| tool (stems) | wall s | CPU s | peak MiB | time / lathe 6-stem time | I LUFS | TP dBTP |")
    w("|---|---|---|---|---|---|---|")
    base6 = sres["lathe master --stems (6)"]["wall"]
    for n, r in sres.items():
        q = squal.get(n)
        w(f"| {n} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss_mib']:.1f} | {r['wall'] / base6:.2f}x | "
          f"{fmt(q and q['integrated_lufs'])} | {fmt(q and q['true_peak_dbtp'])} |")
    w("")
    w("## 3c. Reference matching: lathe vs matchering on corpus pairs")
    w("")
    mrows = matching_job(1 if a.quick else 3, a.quick)
    w("Each corpus mix is matched to the next one (a ring; m03 is 48 kHz, the others 44.1 kHz).")
    w("lathe: `lathe master TARGET --reference REF --deliver wav:24 --max-boost-db 36 --max-cut-db 48`")
    w("(amount 1, the wide limits: matchering matches fully; lathe's defaults stop at 12 and 24 dB;")
    w("loudness target = the reference's, ceiling −1 dBTP). matchering 2.0.6:")
    w("`bench/peers/matchering_master.py TARGET REF OUT.wav` (24-bit). Spectral distance: mean |difference|")
    w("of the mid and side 1/3-octave spectra, 31.5 Hz–16 kHz, after one common offset, measured by")
    w("`tools/spectral_distance.py` (numpy, whole file). Loudness and true peak by `tools/reference_meter.py`.")
    w(f"Wall and memory: {'one round (quick)' if a.quick else 'medians of 3 interleaved rounds'} after a warm-up.")
    w("")
    w("| target → reference | lathe s | matchering s | time ratio | lathe MiB | matchering MiB | memory ratio | distance dB: input / lathe / matchering | I LUFS: reference / lathe / matchering | TP dBTP: lathe / matchering |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    worse, slow, over, far = [], [], [], []
    for row in mrows:
        lt, mg = row["res"]["lathe"], row["res"]["matchering"]
        di, dl, dm = row["dist"]
        ref_i, l_lv, m_lv = row["levels"]
        name = f"{row['target'][:3]} → {row['reference'][:3]}"
        w(f"| {name} | {lt['wall']:.2f} | {mg['wall']:.2f} | {mg['wall'] / lt['wall']:.1f}x | {lt['rss_mib']:.1f} | "
          f"{mg['rss_mib']:.0f} | {mg['rss_mib'] / lt['rss_mib']:.0f}x | {di:.2f} / {dl:.2f} / {dm:.2f} | "
          f"{ref_i['integrated_lufs']:.2f} / {l_lv['integrated_lufs']:.2f} / {m_lv['integrated_lufs']:.2f} | "
          f"{l_lv['true_peak_dbtp']:.2f} / {m_lv['true_peak_dbtp']:.2f} |")
        if dl > dm:
            worse.append(f"{name} ({dl:.2f} dB against {dm:.2f} dB)")
        if dl > 1.0:
            far.append(f"{name} ({dl:.2f} dB)")
        if mg["wall"] / lt["wall"] < 5:
            missed = []
            if abs(m_lv["integrated_lufs"] - ref_i["integrated_lufs"]) > 0.1:
                missed.append(f"misses the reference's loudness by {m_lv['integrated_lufs'] - ref_i['integrated_lufs']:+.2f} LU")
            if m_lv["true_peak_dbtp"] > -1.0:
                missed.append(f"peaks at {m_lv['true_peak_dbtp']:+.2f} dBTP")
            slow.append((f"{name} ({mg['wall'] / lt['wall']:.1f}x)", missed))
        if l_lv["true_peak_dbtp"] > -1.0:
            over.append(name)
    w("")
    total_l = sum(r["res"]["lathe"]["wall"] for r in mrows)
    total_m = sum(r["res"]["matchering"]["wall"] for r in mrows)
    w(f"All pairs together: lathe {total_l:.2f} s, matchering {total_m:.2f} s ({total_m / total_l:.1f}x).")
    w("Goals (issue 6): spectral distance ≤ 1.0 dB: "
      + ("met on every pair." if not far else "**not met** on " + ", ".join(far) + ".")
      + " Spectral distance no worse than matchering's on every pair: "
      + ("met." if not worse else "**not met** on " + ", ".join(worse) + ".")
      + " True peak within −1 dBTP: " + ("met on every pair." if not over else "**over** on " + ", ".join(over) + ".")
      + " Time ≤ 1/5 of matchering's: " + ("met on every pair." if not slow else "**not met** on " + ", ".join(n for n, _ in slow) + ".")
      + " Memory ≤ 1/10: "
      + ("met on every pair." if all(r["res"]["matchering"]["rss_mib"] >= 10 * r["res"]["lathe"]["rss_mib"] for r in mrows)
         else "**not met** on some pairs."))
    for name, missed in slow:
        w(f"**lathe misses the 5x time goal on {name}**; matchering's output there "
          + (" and ".join(missed) if missed else "meets the reference's loudness and the ceiling") + ".")
    w("")
    w("## 3d. Alternate versions locked to the main master")
    w("")
    vres, vrep = versions_job(rounds)
    base = vres["main master alone"]["wall"]
    w("The six 3-minute stems of §3b, `lathe master --stems ... --deliver wav:24`, alone and with")
    w("`" + " ".join(VERSION_ARGS) + "` (each version rendered in lockstep with the main master:")
    w("the stems are decoded and processed once; the master chain, limiter, files and their verification")
    w("run once per version).")
    w("")
    w("| job | wall s | CPU s | peak MiB | time / main alone |")
    w("|---|---|---|---|---|")
    for n, r in vres.items():
        w(f"| {n} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss_mib']:.1f} | {r['wall'] / base:.2f}x |")
    extra = (vrep.get("limiter") or {}).get("locked_extra_reduction") or {}
    w("")
    w(f"Extra limiting the versions cost the main master: {fmt(extra.get('max_db'))} dB at most, "
      f"{fmt(extra.get('duration_s'))} s affected. Versions: " + ", ".join(
          f"{v['name']} {fmt(v['deliverables'][0]['measured']['integrated_lufs'])} LUFS / "
          f"{fmt(v['deliverables'][0]['measured']['true_peak_dbtp'])} dBTP" for v in vrep["versions"]) + ".")
    w("")
    # Sections measured by hand (their headings say so) are kept from the file being replaced.
    lines.extend(hand_sections(Path(a.out)))
    crit = criterion_table(a.criterion)
    if crit:
        w("## 4. Meter and processor micro-benchmarks (criterion, `cargo bench -p lathe-dsp --bench meters --bench processors`)")
        w("")
        w("One second of stereo 48 kHz noise per iteration, single thread.")
        w("")
        w("The default master chain is 4-band EQ, 3-band multiband, 4x tape saturation and the 8x true-peak limiter.")
        w("")
        w("| meter / processor | ns per stereo sample | x realtime (one core) |")
        w("|---|---|---|")
        # A design step (prepare) is not per-sample work: its time is given on its own.
        for name, ns, rt in crit:
            if "prepare" not in name:
                w(f"| {name} | {ns:.2f} | {rt:.0f}x |")
        w("")
        for name, ns, rt in crit:
            if "prepare" in name:
                w(f"- `{name}`: {ns * 48000 / 1e6:.2f} ms per design (the match EQ's two FIRs, once per render).")
        w("")
    w("## Commands")
    w("")
    w("```")
    for n, cmd in {
        "lathe": f"lathe analyze --json {t3.name}",
        "ffmpeg": f"ffmpeg -i {t3.name} -af ebur128=peak=true -f null -",
        "pyebur128": "bench/compare.py PYEBUR128 script: R128State(MODE_I|MODE_LRA|MODE_TRUE_PEAK), 65536-frame blocks",
        "pyloudnorm": "pyln.Meter(rate, filter_class='DeMan').integrated_loudness(x)",
        "lathe master": f"lathe master {t3.name} -o OUT --deliver wav:24 --force",
        "ffmpeg master": f"bench/peers/ffmpeg_master.sh {t3.name} OUT.wav THRESHOLD_DB",
        "matchering master": f"bench/peers/matchering_master.py {t3.name} m04.wav OUT.wav",
        "lathe match": "lathe master TARGET --reference REF -o OUT --deliver wav:24 --max-boost-db 36 --max-cut-db 48 --force",
        "matchering match": "bench/peers/matchering_master.py TARGET REF OUT.wav",
        "spectral distance": "tools/spectral_distance.py A B",
        "sox master": f"bench/peers/sox_master.py {t3.name} OUT.wav THRESHOLD_DB",
        "pedalboard master": f"bench/peers/pedalboard_master.py {t3.name} OUT.wav THRESHOLD_DB",
    }.items():
        w(f"{n}: {cmd}")
    w("```")
    Path(a.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
