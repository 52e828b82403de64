#!/usr/bin/env python3
"""Independent spectral distance for reference matching (issue 6).

Usage: spectral_distance.py A B [A B ...]   (pairs of files)

For each file: the long-term average spectrum of mid (L+R)/2 and side (L-R)/2 over the whole
file (Welch: Hann frames of 16384 samples, 50 % overlap, every frame counts, no gating), summed
into the 1/3-octave bands 31.5 Hz ... 16 kHz (exact centres 1000*2^(k/3) Hz, edges at
centre*2^(+-1/6)). For each pair: the mean absolute difference of those band levels over mid
and side together, after one common level offset (the median difference, which minimises the
mean absolute difference). Decoding by libsndfile (python-soundfile); numpy only.
Prints one JSON array on stdout: {a, b, distance_db, mid_db_a, ...} per pair.
"""
import json
import sys

import numpy as np
import soundfile as sf

N = 16384
BANDS = [k for k in range(-15, 13)]  # 1000*2^(k/3): 31.5 Hz ... 16 kHz


def band_levels(path):
    x, rate = sf.read(path, dtype="float64", always_2d=True)
    if x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    lanes = {"mid": 0.5 * (x[:, 0] + x[:, 1]), "side": 0.5 * (x[:, 0] - x[:, 1])}
    w = np.hanning(N + 1)[:N]
    freqs = np.fft.rfftfreq(N, 1.0 / rate)
    out = {}
    for name, s in lanes.items():
        if len(s) < N:
            s = np.pad(s, (0, N - len(s)))
        hop = N // 2
        starts = range(0, len(s) - N + 1, hop)
        power = np.zeros(N // 2 + 1)
        for st in starts:
            power += np.abs(np.fft.rfft(s[st:st + N] * w)) ** 2
        levels = []
        for k in BANDS:
            fc = 1000.0 * 2.0 ** (k / 3.0)
            lo, hi = fc * 2 ** (-1 / 6), fc * 2 ** (1 / 6)
            p = power[(freqs >= lo) & (freqs < hi)].sum()
            levels.append(10 * np.log10(p) if p > 0 else None)
        out[name] = levels
    return out


def distance(a, b):
    d = [x - y for lane in ("mid", "side") for x, y in zip(a[lane], b[lane])
         if x is not None and y is not None]
    d = np.array(d)
    c = np.median(d)
    return float(np.mean(np.abs(d - c)))


if __name__ == "__main__":
    args = sys.argv[1:]
    cache = {}
    result = []
    for a, b in zip(args[0::2], args[1::2]):
        for p in (a, b):
            if p not in cache:
                cache[p] = band_levels(p)
        result.append({
            "a": a,
            "b": b,
            "distance_db": distance(cache[a], cache[b]),
            "bands_hz": [1000.0 * 2.0 ** (k / 3.0) for k in BANDS],
            "a_mid_db": cache[a]["mid"], "a_side_db": cache[a]["side"],
            "b_mid_db": cache[b]["mid"], "b_side_db": cache[b]["side"],
        })
    print(json.dumps(result, indent=1))
