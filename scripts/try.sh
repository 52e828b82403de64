#!/usr/bin/env bash
# Build lathe in release mode and run it on real music: analyse the corpus mixes (the corpus is
# built on first use) and master one of them with the streaming preset into ./try-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_corpus
cargo build --release -p lathe-cli
if [ -n "${LATHE_CORPUS:-}" ]; then
  ./target/release/lathe analyze "$LATHE_CORPUS"/public/mixes/*.wav "$LATHE_CORPUS"/public/ugly/u06_mp3_lame_v2_44k1.mp3
  ./target/release/lathe master "$LATHE_CORPUS"/public/mixes/m03_singularity_apex_aleph_48k.wav \
    --preset streaming -o try-out --force
  echo "masters and report.json are in ./try-out/"
else
  echo "no corpus: pass your own files, e.g. ./target/release/lathe master song.wav -o out"
fi
