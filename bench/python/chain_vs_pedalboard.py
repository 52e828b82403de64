"""lathe's Python chain beside pedalboard's on the same array in memory: a 20 Hz high-pass, a
1.5:1 compressor at -20 dB (30 ms attack, 250 ms release) and a limiter at -1 dB, on a float32
(frames, 2) array (pedalboard takes (2, frames); the transposes are outside the timing).
Wall time of the chain call, median of ROUNDS interleaved rounds, and the output's true peak by
libebur128 (4x) and by a 16x FFT upsampling (tools/reference_meter.py).
Usage: chain_vs_pedalboard.py IN.wav [GAIN_DB] [ROUNDS]"""
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pedalboard as pb
import pyebur128
import soundfile as sf

import lathe

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from reference_meter import true_peak_16x  # noqa: E402

src = sys.argv[1]
gain_db = float(sys.argv[2]) if len(sys.argv) > 2 else 6.0
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
x, rate = sf.read(src, dtype="float32", always_2d=True)
# Pushed into the limiter: the job a ceiling is for.
x = (x * 10 ** (gain_db / 20)).astype(np.float32)
xt = np.ascontiguousarray(x.T)

lathe_chain = lathe.Chain([
    lathe.HighPass(freq_hz=20.0, slope_db_oct=12),
    lathe.Compressor(threshold_db=-20.0, ratio=1.5, attack_ms=30.0, release_ms=250.0),
    lathe.Limiter(ceiling_dbtp=-1.0),
])
pb_chain = pb.Pedalboard([
    pb.HighpassFilter(cutoff_frequency_hz=20.0),
    pb.Compressor(threshold_db=-20.0, ratio=1.5, attack_ms=30.0, release_ms=250.0),
    pb.Limiter(threshold_db=-1.0),
])


def timed(f):
    t = time.perf_counter()
    y = f()
    return time.perf_counter() - t, y


def tp_db(y):
    y = np.ascontiguousarray(y, dtype=np.float64)
    st = pyebur128.R128State(2, rate, pyebur128.MeasurementMode.MODE_TRUE_PEAK)
    st.add_frames(y.flatten(), y.shape[0])
    tp4 = max(pyebur128.get_true_peak(st, c) for c in range(2))
    return 20 * np.log10(tp4), 20 * np.log10(true_peak_16x(y))


times = {"lathe": [], "pedalboard": []}
for _ in range(rounds):
    t, y_lathe = timed(lambda: lathe_chain(x, rate))
    times["lathe"].append(t)
    t, y_pb = timed(lambda: pb_chain(xt, rate))
    times["pedalboard"].append(t)
print(f"{src}: {x.shape[0] / rate:.1f} s at {rate} Hz, +{gain_db} dB into the chain")
for name, y in (("lathe", y_lathe), ("pedalboard", y_pb.T)):
    tp4, tp16 = tp_db(y)
    ts = ", ".join(f"{t:.3f}" for t in times[name])
    print(f"{name:10} {statistics.median(times[name]):.3f} s (rounds {ts}); "
          f"true peak {tp4:+.2f} dBTP (libebur128), {tp16:+.2f} dBTP (16x)")
