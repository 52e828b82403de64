#!/bin/sh
# A 12-track album (the five corpus mixes in turn), `lathe album` to -14 LUFS / -1 dBTP with
# its CD image and DDP: wall time, CPU time and peak memory (issue 23's "many jobs").
# Usage: LATHE_CORPUS=~/.cache/lathe/corpus sh bench/album/run.sh [ROUNDS] [LATHE_BINARY]
set -eu
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
LATHE=${2:-target/release/lathe}
[ -x "$LATHE" ] || cargo build --release -p lathe-cli
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
{
  printf 'title = "Twelve"\nartist = "Various"\nmode = "album"\n'
  printf 'target = { integrated_lufs = -14.0, true_peak_dbtp = -1.0 }\n'
  i=0
  while [ $i -lt 12 ]; do
    for m in "$LATHE_CORPUS"/public/mixes/*.wav; do
      [ $i -lt 12 ] || break
      i=$((i + 1))
      printf '[[track]]\nfile = "%s"\ntitle = "Track %d"\n' "$m" "$i"
    done
  done
} > "$W/album.toml"
for r in $(seq "$ROUNDS"); do
  rm -rf "$W/out"
  /usr/bin/time -f "round $r: %e s wall, %U s user + %S s system, peak %M KiB" \
    "$LATHE" album "$W/album.toml" -o "$W/out" 2>&1 >/dev/null | tail -1
done
