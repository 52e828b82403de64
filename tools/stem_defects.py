#!/usr/bin/env python3
"""Planted stem defects and how much of them a processed stem still has: the measuring side of
crates/lathe-cli/tests/stem_assistant.rs, independent of lathe (numpy, scipy, soundfile, pystoi).

  stem_defects.py voice RAW_WAV OUT_WAV RATE SECONDS RMS_DBFS
      the espeak-ng voice as a stereo stem: resampled, repeated to SECONDS, at RMS_DBFS over its
      active part, 1 s of silence first
  stem_defects.py plant IN_WAV OUT_WAV KIND FREQ_HZ GAIN_DB Q
      KIND bell (RBJ peaking) or high_shelf (RBJ shelf, slope 1), as scipy biquads
  stem_defects.py compare CLEAN DEFECTIVE PROCESSED DEFECT_HZ [KIND]
      1/3-octave long-term levels of the three, each less its level away from the defect (more
      than an octave from it; for KIND high_shelf, below half its corner); prints JSON with the
      defect's excess before and after (1/3-octave band at DEFECT_HZ against CLEAN), the share
      removed, and the largest change from DEFECTIVE to PROCESSED away from the defect
      (50 Hz – 16 kHz); DEFECT_HZ 0: a clean stem, the largest change of any band after the
      overall level
  stem_defects.py stoi CLEAN_VOICE MIX_WAV...
      STOI (pystoi) of each mix against the clean voice, both mono
"""
import json
import sys

import numpy as np
import soundfile as sf
from scipy.signal import lfilter, resample_poly, welch

THIRDS = [50 * 2 ** (k / 3) for k in range(0, 25)]  # 50 Hz … 12.7 kHz
THIRDS = [f for f in THIRDS if f <= 16000]


def rbj(kind, fs, f0, gain_db, q):
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / fs
    cw, sw = np.cos(w), np.sin(w)
    if kind == "bell":
        al = sw / (2 * q)
        b = [1 + al * a, -2 * cw, 1 - al * a]
        d = [1 + al / a, -2 * cw, 1 - al / a]
    else:  # high shelf
        al = sw / 2 * np.sqrt(2)
        sa = 2 * np.sqrt(a) * al
        b = [a * ((a + 1) + (a - 1) * cw + sa), -2 * a * ((a - 1) + (a + 1) * cw), a * ((a + 1) + (a - 1) * cw - sa)]
        d = [(a + 1) - (a - 1) * cw + sa, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - sa]
    return np.array(b) / d[0], np.array(d) / d[0]


def mono(path):
    x, fs = sf.read(path, always_2d=True)
    return x.mean(axis=1), fs


def thirds_db(path, reference=None):
    """1/3-octave levels less the stem's level over the `reference` bands (all when None)."""
    x, fs = mono(path)
    f, p = welch(x, fs, nperseg=8192)
    bands = []
    for c in THIRDS:
        m = (f >= c * 2 ** (-1 / 6)) & (f < c * 2 ** (1 / 6))
        bands.append(p[m].sum())
    bands = np.array(bands)
    ref = bands if reference is None else bands[reference]
    return 10 * np.log10(bands + 1e-30) - 10 * np.log10(ref.sum() + 1e-30)


def main():
    cmd = sys.argv[1]
    if cmd == "voice":
        raw, out, rate, seconds, rms_db = sys.argv[2:7]
        x, fs = mono(raw)
        rate, seconds = int(rate), float(seconds)
        g = np.gcd(int(fs), rate)
        x = resample_poly(x, rate // g, int(fs) // g)
        n = int(seconds * rate)
        y = np.zeros(n)
        pos = rate
        while pos < n:
            k = min(len(x), n - pos)
            y[pos:pos + k] = x[:k]
            pos += len(x) + rate // 2
        active = np.abs(y) > 1e-3
        y *= 10 ** (float(rms_db) / 20) / np.sqrt(np.mean(y[active] ** 2))
        sf.write(out, np.stack([y, y], axis=1), rate, subtype="FLOAT")
    elif cmd == "plant":
        src, out, kind, f0, gain, q = sys.argv[2:8]
        x, fs = sf.read(src, always_2d=True)
        b, a = rbj(kind, fs, float(f0), float(gain), float(q))
        y = lfilter(b, a, x, axis=0)
        sf.write(out, y, fs, subtype="FLOAT")
    elif cmd == "compare":
        clean, bad, proc, f0 = sys.argv[2:6]
        shelf = len(sys.argv) > 6 and sys.argv[6] == "high_shelf"
        f0 = float(f0)
        res = {}
        if f0 > 0:
            # Away from the defect: more than an octave from it (below half the corner for a
            # shelf, which lifts everything above it). Levels are taken relative to those bands.
            far = [k for k, f in enumerate(THIRDS)
                   if (f <= f0 / 2 if shelf else abs(np.log2(f / f0)) >= 1)]
            c, d, p = thirds_db(clean, far), thirds_db(bad, far), thirds_db(proc, far)
            i = int(np.argmin([abs(np.log2(f / f0)) for f in THIRDS]))
            before, after = d[i] - c[i], p[i] - c[i]
            res = {"band_hz": THIRDS[i], "before_db": before, "after_db": after,
                   "removed": 1 - after / before if before else 0.0,
                   "away_worst_db": float(np.max(np.abs(p[far] - d[far])))}
        else:
            d, p = thirds_db(bad), thirds_db(proc)
            res = {"worst_db": float(np.max(np.abs(p - d)))}
        print(json.dumps(res))
    elif cmd == "stoi":
        from pystoi import stoi
        ref, fs = mono(sys.argv[2])
        out = []
        for path in sys.argv[3:]:
            x, fs2 = mono(path)
            assert fs2 == fs, "same rate"
            n = min(len(ref), len(x))
            out.append(float(stoi(ref[:n], x[:n], fs, extended=False)))
        print(json.dumps(out))


if __name__ == "__main__":
    main()
