"""The stereo master job through matchering 2.0.6: TARGET matched to REFERENCE, 24-bit WAV.
matchering takes its loudness from the reference and limits sample peaks at 0 dBFS (it has no
LUFS target and no true-peak ceiling). Usage: matchering_master.py TARGET REFERENCE OUT.wav"""
import sys

import matchering as mg

mg.log(print)
mg.process(target=sys.argv[1], reference=sys.argv[2], results=[mg.pcm24(sys.argv[3])])
