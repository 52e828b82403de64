"""The stereo master job through pedalboard: the same 20 Hz high-pass and 1.5:1 compressor as
lathe's streaming preset (JUCE's compressor: no knee or RMS setting), then a gain to -14 LUFS
and JUCE's limiter at -1 dB (sample peaks; it adds its own make-up gain, so the loudness is
measured again after it with pyloudnorm and the gain corrected once: two passes), 24-bit WAV.
Usage: pedalboard_master.py IN.wav OUT.wav THRESHOLD_DB"""
import sys

import pedalboard as pb
import pyloudnorm as pyln
import soundfile as sf

src, out, thr = sys.argv[1], sys.argv[2], float(sys.argv[3])
x, rate = sf.read(src, dtype="float32", always_2d=True)
chain = pb.Pedalboard([pb.HighpassFilter(cutoff_frequency_hz=20.0),
                       pb.Compressor(threshold_db=thr, ratio=1.5, attack_ms=30.0, release_ms=250.0)])
y = chain(x.T, rate)
meter = pyln.Meter(rate, filter_class="DeMan")


def finish(gain_db):
    return pb.Pedalboard([pb.Gain(gain_db=gain_db), pb.Limiter(threshold_db=-1.0)])(y, rate)


gain = -14.0 - meter.integrated_loudness(y.T)
z = finish(gain)
gain += -14.0 - meter.integrated_loudness(z.T)
sf.write(out, finish(gain).T, rate, subtype="PCM_24")
