#!/usr/bin/env bash
# Behaviour check for refactors: master a fixed set of jobs with the release build and print the
# md5 of every delivered file (audio, CUE, DDP image, plots, saved sessions; report.json files are left
# out because it holds timings). Run it on two commits and compare the lists: a change that only
# moves code must give the same list, since dither is seeded.
#
#   bash scripts/golden.sh OUT_DIR > md5s.txt
#
# Jobs: streaming preset (WAV + FLAC + MP3), loud preset, stems with two locked versions, a
# reference match, and a three-track album with its CD image and DDP.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: golden.sh OUT_DIR}"
: "${LATHE_CORPUS:?set LATHE_CORPUS (bash scripts/try.sh builds the corpus into ~/.cache/lathe/corpus)}"
M="$LATHE_CORPUS/public/mixes"
S="$LATHE_CORPUS/public/stems/s02_freedoom_d_doom2"
cargo build --release -q -p lathe-cli >&2
L=./target/release/lathe
rm -rf "$OUT" && mkdir -p "$OUT"

run() { "$L" "$@" >/dev/null 2>&1 || { rc=$?; [ $rc -eq 1 ] || { echo "lathe $* exited $rc" >&2; exit 1; }; }; }

run master "$M/m03_singularity_apex_aleph_48k.wav" --preset streaming \
  --deliver wav:24 --deliver flac:16 --deliver mp3:320 -o "$OUT/streaming"
run master "$M/m04_nexuiz_brokenlight_excerpt_44k1.wav" --preset loud -o "$OUT/loud"
run master --stems "$S"/bass.wav "$S"/choir_fx.wav "$S"/drums.wav "$S"/guitars.wav \
  "$S"/orchestra.wav "$S"/synth_lead.wav --title doom --deliver wav:24 --deliver mp3:256 \
  --version instrumental:mute=synth_lead --version acappella:only=synth_lead \
  -o "$OUT/stems" --save-session "$OUT/stems/session.toml"
run master "$M/m05_frozenbubble_2p_module_44k1.wav" --reference "$M/m01_hyperrogue_graveyard_44k1.wav" \
  -o "$OUT/matched" --save-session "$OUT/matched/session.toml"

cat >"$OUT/album.toml" <<EOF
title = "Golden Album"
artist = "Various"
upc = "4006381333931"
mode = "album"
target = { integrated_lufs = -14.0, true_peak_dbtp = -1.0 }
[[track]]
file = "$M/m04_nexuiz_brokenlight_excerpt_44k1.wav"
title = "One"
isrc = "USXXX2600001"
[[track]]
file = "$M/m05_frozenbubble_2p_module_44k1.wav"
title = "Two"
isrc = "USXXX2600002"
pregap_s = 1.5
crossfade_s = 3.0
[[track]]
file = "$M/m03_singularity_apex_aleph_48k.wav"
title = "Three"
isrc = "USXXX2600003"
EOF
run album "$OUT/album.toml" -o "$OUT/album"

cd "$OUT"
find . -type f ! -name '*report.json' ! -name album.toml ! -name '.lathe.lock' | LC_ALL=C sort | xargs md5sum
