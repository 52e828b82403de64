#!/bin/sh
# Renders each preset needs to land: every corpus mix under streaming (WAV only, and with the
# preset's own MP3), loud, club and cd. Prints, per master, the renders after the first pass,
# the gain of each and the loudness it reached (issue 23's "lands in one render").
# Usage: LATHE_CORPUS=~/.cache/lathe/corpus sh bench/landing/run.sh
set -eu
cd "$(dirname "$0")/../.."
LATHE=target/release/lathe
[ -x "$LATHE" ] || cargo build --release -p lathe-cli
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
for job in "streaming --deliver wav:24" "streaming" "loud" "club" "cd"; do
  for m in "$LATHE_CORPUS"/public/mixes/*.wav; do
    o="$W/out"
    rm -rf "$o"
    # shellcheck disable=SC2086
    "$LATHE" master "$m" --preset $job -o "$o" >/dev/null 2>&1
    python3 - "$o/report.json" "$job" "$(basename "$m" .wav)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
renders = r["passes"][1:]
print(f"{sys.argv[2]:28} {sys.argv[3][:3]}: {len(renders)} render(s); "
      + ", ".join(f"{p['gain_db']:+.2f} dB -> {p['integrated_lufs']:.3f}" for p in renders))
PY
  done
done
