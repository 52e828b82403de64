#!/usr/bin/env bash
# Build lathe in release mode and run it on real music: analyse the corpus mixes (the corpus is
# built on first use), master one of them with the streaming preset into ./try-out/, and match
# another to it as a reference into ./try-out/matched/ (with the plot and the editable session),
# and master a stem set with an instrumental and an a cappella locked to it into
# ./try-out/versions/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_build_deps
ensure_corpus
cargo build --release -p lathe-cli
if [ -n "${LATHE_CORPUS:-}" ]; then
  ./target/release/lathe analyze "$LATHE_CORPUS"/public/mixes/*.wav "$LATHE_CORPUS"/public/ugly/u06_mp3_lame_v2_44k1.mp3
  ./target/release/lathe master "$LATHE_CORPUS"/public/mixes/m03_singularity_apex_aleph_48k.wav \
    --preset streaming -o try-out --force
  ./target/release/lathe master "$LATHE_CORPUS"/public/mixes/m05_frozenbubble_2p_module_44k1.wav \
    --reference "$LATHE_CORPUS"/public/mixes/m01_hyperrogue_graveyard_44k1.wav \
    -o try-out/matched --save-session try-out/matched/session.toml --force
  S="$LATHE_CORPUS"/public/stems/s02_freedoom_d_doom2
  ./target/release/lathe master --stems "$S"/bass.wav "$S"/choir_fx.wav "$S"/drums.wav "$S"/guitars.wav \
    "$S"/orchestra.wav "$S"/synth_lead.wav --title doom --deliver wav:24 \
    --version instrumental:mute=synth_lead --version acappella:only=synth_lead -o try-out/versions --force
  echo "masters and report.json are in ./try-out/; the reference match (report, *_match.svg, session) in ./try-out/matched/;"
  echo "the stem master with its locked instrumental and a cappella in ./try-out/versions/"
else
  echo "no corpus: pass your own files, e.g. ./target/release/lathe master song.wav -o out"
fi
