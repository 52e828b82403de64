#!/bin/sh
# What a FLAC and an MP3 deliverable add to a `lathe master` job, beside `flac -5` and
# `lame -b 320` alone on the same 3-minute master (issue 23's "encoders at their own speed").
# Rounds are interleaved so that a busy moment of the machine hits every column alike.
# Usage: LATHE_CORPUS=~/.cache/lathe/corpus sh bench/deliverables/run.sh [ROUNDS]
set -eu
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
LATHE=target/release/lathe
[ -x "$LATHE" ] || cargo build --release -p lathe-cli
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
MIX=$(ls "$LATHE_CORPUS"/public/mixes/m01_*.wav)
# 180 s: the corpus mix (126 s) played twice, cut.
sox "$MIX" "$W/t3.wav" repeat 1 trim 0 180
"$LATHE" master "$W/t3.wav" --deliver wav:24 -o "$W/m" 2>/dev/null
MASTER=$(ls "$W"/m/*.wav)
secs() { s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
for r in $(seq "$ROUNDS"); do
  rm -rf "$W/o"*
  wav=$(secs "$LATHE" master "$W/t3.wav" --deliver wav:24 -o "$W/o1")
  flac=$(secs "$LATHE" master "$W/t3.wav" --deliver wav:24 --deliver flac:24 -o "$W/o2")
  mp3=$(secs "$LATHE" master "$W/t3.wav" --deliver wav:24 --deliver mp3:320 -o "$W/o3")
  ref_flac=$(secs flac -5 -f -s "$MASTER" -o "$W/ref.flac")
  ref_lame=$(secs lame --quiet -b 320 "$MASTER" "$W/ref.mp3")
  passes=$(python3 -c "import json;print(len(json.load(open('$W/o3/report.json'))['passes']))")
  echo "round $r: wav $wav s; wav+flac $flac s; wav+mp3 $mp3 s ($passes passes); flac -5 $ref_flac s; lame -b 320 $ref_lame s"
done
