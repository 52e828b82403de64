#!/usr/bin/env python3
"""Independent reference measurements for lathe's tests and benchmarks.

For each file: integrated loudness and LRA from libebur128 (pyebur128), and the true peak
from 16x band-limited interpolation (zero-padded FFT on overlapping blocks: an exact
band-limited interpolator away from block edges, whose 2048-sample margins are discarded).
Prints one JSON array on stdout. Decoding by libsndfile (python-soundfile): WAV/FLAC/AIFF/Ogg.
"""
import json
import sys

import numpy as np
import pyebur128
import soundfile as sf

UP = 16
BLOCK = 32768
MARGIN = 2048


def true_peak_16x(x):
    """x: (frames, channels) float64. Returns the 16x band-limited peak, linear."""
    peak = 0.0
    n = x.shape[0]
    pos = 0
    while pos < n:
        lo = max(0, pos - MARGIN)
        hi = min(n, pos + BLOCK + MARGIN)
        seg = x[lo:hi]
        m = seg.shape[0]
        spec = np.fft.rfft(seg, axis=0)
        up = np.fft.irfft(spec, n=m * UP, axis=0) * UP
        a = (pos - lo) * UP
        b = (min(n, pos + BLOCK) - lo) * UP
        peak = max(peak, float(np.max(np.abs(up[a:b]))))
        pos += BLOCK
    return peak


def measure(path):
    x, rate = sf.read(path, dtype="float64", always_2d=True)
    ch = x.shape[1]
    meter = pyebur128.R128State(ch, rate, pyebur128.MeasurementMode.MODE_I | pyebur128.MeasurementMode.MODE_LRA)
    for start in range(0, x.shape[0], 65536):
        block = np.ascontiguousarray(x[start:start + 65536])
        meter.add_frames(block.flatten(), block.shape[0])
    integrated = pyebur128.get_loudness_global(meter)
    lra = pyebur128.get_loudness_range(meter)
    tp = true_peak_16x(x)
    return {
        "file": path,
        "integrated_lufs": integrated,
        "lra_lu": lra,
        "true_peak_dbtp": 20 * np.log10(tp) if tp > 0 else None,
    }


if __name__ == "__main__":
    print(json.dumps([measure(p) for p in sys.argv[1:]], indent=1))
