"""How far the side signal lies under the mid below a frequency (default 150 Hz), in dB, per
file: M = (L+R)/2, S = (L-R)/2, energies summed over the FFT bins below the frequency of the
whole file. Independent of lathe (numpy and soundfile only). Prints a JSON array.

Usage: python low_side.py [--below-hz F] FILE..."""
import json
import sys

import numpy as np
import soundfile as sf


def main(argv):
    below = 150.0
    if argv[:1] == ["--below-hz"]:
        below, argv = float(argv[1]), argv[2:]
    out = []
    for f in argv:
        x, fs = sf.read(f, dtype="float64", always_2d=True)
        m = (x[:, 0] + x[:, 1]) / 2
        s = (x[:, 0] - x[:, 1]) / 2
        lo = np.fft.rfftfreq(len(m), 1 / fs) < below
        em = float((np.abs(np.fft.rfft(m))[lo] ** 2).sum())
        es = float((np.abs(np.fft.rfft(s))[lo] ** 2).sum())
        out.append({"file": f, "side_under_mid_db": 10 * np.log10(em / max(es, 1e-30))})
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
