"""The stereo master job through sox 14.4: the same 20 Hz high-pass and 1.5:1 compressor as
lathe's streaming preset (`compand`, 30 ms attack, 250 ms release, 6 dB soft knee), measured
by libebur128 (pyebur128; sox has no loudness meter), then one gain to -14 LUFS into a 24-bit
WAV (sox dithers). sox has no true-peak limiter, so nothing holds the -1 dBTP ceiling.
Usage: sox_master.py IN.wav OUT.wav THRESHOLD_DB"""
import subprocess
import sys
import tempfile
from pathlib import Path

import pyebur128
import soundfile as sf

src, out, thr = sys.argv[1], sys.argv[2], float(sys.argv[3])
with tempfile.TemporaryDirectory() as tmp:
    chained = str(Path(tmp) / "chain.wav")
    # 3 dB of headroom first (the high-pass overshoots full scale, and sox's chain is
    # fixed-point), with the compressor's threshold moved along; the gain to the target
    # restores the level. Transfer function: unity below the threshold, 1.5:1 above it.
    t = thr - 3.0
    curve = f"6:-90,-90,{t},{t},0,{t / 3:.3f}"
    subprocess.run(["sox", src, "-e", "floating-point", "-b", "32", chained,
                    "gain", "-3", "highpass", "20", "compand", "0.03,0.25", curve], check=True)
    x, rate = sf.read(chained, dtype="float64", always_2d=True)
    state = pyebur128.R128State(x.shape[1], rate, pyebur128.MeasurementMode.MODE_I)
    for start in range(0, x.shape[0], 65536):
        block = x[start:start + 65536]
        state.add_frames(block.flatten(), block.shape[0])
    loudness = pyebur128.get_loudness_global(state)
    subprocess.run(["sox", chained, "-b", "24", out, "gain", f"{-14.0 - loudness:.4f}"], check=True)
