#!/usr/bin/env bash
# Build lathe in release mode and run it on real music: the corpus mixes (built on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_corpus
cargo build --release -p lathe-cli
if [ -n "${LATHE_CORPUS:-}" ]; then
  ./target/release/lathe analyze "$LATHE_CORPUS"/public/mixes/*.wav "$LATHE_CORPUS"/public/ugly/u06_mp3_lame_v2_44k1.mp3
else
  echo "no corpus: pass your own files, e.g. ./target/release/lathe analyze song.wav"
fi
