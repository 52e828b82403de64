#!/bin/sh
# flacenc under several settings beside libFLAC's `flac -5` (3 runs) on a 3-minute 24-bit
# master made from a corpus mix (a gain in float fills the low bits, as a real master's do).
# Usage: LATHE_CORPUS=DIR sh bench/flacenc_settings/run.sh
set -e
here=$(cd "$(dirname "$0")" && pwd)
wav=${TMPDIR:-/tmp}/flacenc-settings-3min.wav
ffmpeg -v error -y -stream_loop 1 -i "$LATHE_CORPUS/public/mixes/m01_hyperrogue_graveyard_44k1.wav" \
  -t 180 -af "aformat=sample_fmts=flt,volume=0.97" -c:a pcm_s24le "$wav"
cargo run -q --release --manifest-path "$here/Cargo.toml" -- "$wav"
for i in 1 2 3; do
  /usr/bin/time -f "libFLAC $(flac --version | cut -d' ' -f2) flac -5: %e s" \
    flac -5 -f -s -o "$wav.flac" "$wav" 2>&1 | grep -v WARNING
done
echo "flac -5 size: $(stat -c %s "$wav.flac" | awk '{printf "%.1f MB", $1/1e6}')"
rm -f "$wav" "$wav.flac"
