#!/usr/bin/env python3
"""Can a stem's own long-term spectrum tell a planted mud or harshness boost from the
instrument's timbre? The evidence behind docs/ASSISTANT.md's "mud and harshness" section.

  tonal_separability.py CORPUS_DIR

For every stem of the corpus's stem sets (CORPUS_DIR/public/stems/*/*.wav, the mixes left out)
it measures the mean excess of 200–500 Hz (mud) and 2–5 kHz (harshness) over a smooth curve
fitted to the stem's own 1/3-octave spectrum (40 Hz – 12.5 kHz, bands within 40 dB of the
loudest), once for the clean stem and once with the test's planted boost (RBJ bell, +6 dB:
Q 1 at 315 Hz, Q 1.4 at 3150 Hz, scipy's lfilter). Smooth curves: a straight line, and
polynomials of degree 2 and 3 in log frequency. It prints the table and, per measure, whether
any threshold separates every planted stem from every clean one (the smallest planted value
above the largest clean value). Independent of lathe: numpy, scipy, soundfile.
"""
import glob
import os
import sys

import numpy as np
import soundfile as sf
from scipy.signal import lfilter, welch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stem_defects import rbj  # noqa: E402

TH = np.array([1000 * 2 ** (k / 3) for k in range(-17, 14)])  # 20 Hz … 20 kHz
RANGES = [("mud", 200, 500, 315, 1.0), ("harshness", 2000, 5000, 3150, 1.4)]
DEGREES = [1, 2, 3]


def thirds_db(x, fs):
    f, p = welch(x, fs, nperseg=8192)
    return np.array([10 * np.log10(p[(f >= c * 2 ** (-1 / 6)) & (f < c * 2 ** (1 / 6))].sum() + 1e-30)
                     for c in TH])


def idx(hz):
    return int(np.argmin(np.abs(np.log2(TH / hz))))


def excess(t, lo, hi, degree):
    active = [k for k in range(idx(40), idx(12500) + 1) if t[k] > t.max() - 40]
    c = np.polyfit(np.log2(TH[active]), t[active], degree)
    r = list(range(idx(lo), idx(hi) + 1))
    return float(np.mean(t[r] - np.polyval(c, np.log2(TH[r]))))


def main():
    corpus = sys.argv[1]
    rows = []
    for path in sorted(glob.glob(os.path.join(corpus, "public/stems/*/*.wav"))):
        if os.path.basename(path) == "mix.wav":
            continue
        x, fs = sf.read(path, always_2d=True)
        mid = x.mean(axis=1)
        clean = thirds_db(mid, fs)
        row = {"stem": "/".join(path.split(os.sep)[-2:])}
        for what, lo, hi, hz, q in RANGES:
            b, a = rbj("bell", fs, hz, 6.0, q)
            planted = thirds_db(lfilter(b, a, mid), fs)
            for d in DEGREES:
                row[(what, d)] = (excess(clean, lo, hi, d), excess(planted, lo, hi, d))
        rows.append(row)
    head = "stem".ljust(42) + "".join(f"{w[:4]} deg{d}".rjust(16) for w, *_ in RANGES for d in DEGREES)
    print(head)
    print(" " * 42 + "   clean→planted" * (len(RANGES) * len(DEGREES)))
    for r in rows:
        print(r["stem"].ljust(42) + "".join(
            f"{r[(w, d)][0]:7.1f}→{r[(w, d)][1]:6.1f}" .rjust(16) for w, *_ in RANGES for d in DEGREES))
    print()
    for what, *_ in RANGES:
        for d in DEGREES:
            clean_max = max(r[(what, d)][0] for r in rows)
            planted_min = min(r[(what, d)][1] for r in rows)
            verdict = "separable" if planted_min > clean_max else "NOT separable"
            print(f"{what}, fit of degree {d}: clean stems up to {clean_max:+.1f} dB, planted ones "
                  f"from {planted_min:+.1f} dB: {verdict}")


if __name__ == "__main__":
    main()
