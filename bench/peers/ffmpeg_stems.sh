#!/usr/bin/env bash
# The stem master job through ffmpeg: the stems summed by `amix` (normalize=0, so the sum is
# the plain sum lathe makes), then the same high-pass and glue compressor as lathe's streaming
# preset and two-pass loudnorm to -14 LUFS / -1 dBTP, resampled back to the stems' rate, 24-bit.
# Usage: ffmpeg_stems.sh OUT.wav THRESHOLD_DB STEM.wav...
set -euo pipefail
out=$1 thr=$2; shift 2
rate=$(ffprobe -v error -select_streams a:0 -show_entries stream=sample_rate -of csv=p=0 "$1")
inputs=() labels=""
for i in $(seq 0 $(($# - 1))); do labels="$labels[$i:a]"; done
for f in "$@"; do inputs+=(-i "$f"); done
chain="${labels}amix=inputs=$#:normalize=0,highpass=f=20:poles=2"
chain="$chain,acompressor=threshold=${thr}dB:ratio=1.5:attack=30:release=250:knee=6:detection=rms"
json=$(ffmpeg -filter_threads 1 -hide_banner -nostats "${inputs[@]}" -filter_complex \
  "$chain,loudnorm=I=-14:TP=-1:LRA=20:print_format=json" -f null - 2>&1 | sed -n '/^{/,/^}/p')
val() { printf '%s\n' "$json" | sed -n "s/.*\"$1\" : \"\([^\"]*\)\".*/\1/p"; }
ln="loudnorm=I=-14:TP=-1:LRA=20:linear=true:measured_I=$(val input_i):measured_TP=$(val input_tp)"
ln="$ln:measured_LRA=$(val input_lra):measured_thresh=$(val input_thresh):offset=$(val target_offset)"
ffmpeg -filter_threads 1 -y -hide_banner -nostats -loglevel error "${inputs[@]}" -filter_complex \
  "$chain,$ln,aresample=$rate" -c:a pcm_s24le "$out"
