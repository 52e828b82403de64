#!/bin/sh
# lathe's AAC (FDK, afterburner, 256 kbps) and Opus (libopus, complexity 10, 160 kbps)
# writers beside ffmpeg's native AAC encoder and its libopus encoder at the same bitrates, one
# thread, 3 runs each, on the same 3-minute float WAV (44.1 kHz for AAC, 48 kHz for Opus)
# made from a corpus mix. ffmpeg's times include reading the WAV (a few hundredths of a s).
# Usage: LATHE_CORPUS=DIR sh bench/lossy_encoders/run.sh
set -e
here=$(cd "$(dirname "$0")" && pwd)
tmp=${TMPDIR:-/tmp}
mix="$LATHE_CORPUS/public/mixes/m01_hyperrogue_graveyard_44k1.wav"
ffmpeg -v error -y -stream_loop 1 -i "$mix" -t 180 -c:a pcm_f32le "$tmp/enc-44k1.wav"
ffmpeg -v error -y -stream_loop 1 -i "$mix" -t 180 -ar 48000 -c:a pcm_f32le "$tmp/enc-48k.wav"
cargo build -q --release --manifest-path "$here/Cargo.toml"
bin="$here/target/release/lossy-encoders"
for i in 1 2 3; do
  echo "lathe aac:256 (FDK): $($bin aac 256 "$tmp/enc-44k1.wav" "$tmp/enc.m4a") s"
  /usr/bin/time -f "ffmpeg -c:a aac -b:a 256k: %e s" ffmpeg -v error -y -threads 1 \
    -i "$tmp/enc-44k1.wav" -c:a aac -b:a 256k "$tmp/enc-ff.m4a"
  echo "lathe opus:160 (libopus): $($bin opus 160 "$tmp/enc-48k.wav" "$tmp/enc.opus") s"
  /usr/bin/time -f "ffmpeg -c:a libopus -b:a 160k: %e s" ffmpeg -v error -y -threads 1 \
    -i "$tmp/enc-48k.wav" -c:a libopus -b:a 160k "$tmp/enc-ff.opus"
done
ls -l "$tmp/enc.m4a" "$tmp/enc-ff.m4a" "$tmp/enc.opus" "$tmp/enc-ff.opus" | awk '{printf "%s %.2f MB\n", $9, $5/1e6}'
rm -f "$tmp"/enc-44k1.wav "$tmp"/enc-48k.wav "$tmp"/enc.m4a "$tmp"/enc-ff.m4a "$tmp"/enc.opus "$tmp"/enc-ff.opus
