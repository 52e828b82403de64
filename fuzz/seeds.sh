#!/usr/bin/env bash
# Builds the fuzz targets' seed folders under fuzz/corpus/<target>/ (never committed): the
# first bytes of every corpus file, sessions and an album that lathe itself writes, a DDP image
# lathe makes, job options and multipart uploads. Needs a build of lathe (LATHE_BIN, default
# target/release/lathe; CI uses the tests' build) and the corpus.
# Usage: bash fuzz/seeds.sh [LATHE_CORPUS]
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${1:-${LATHE_CORPUS:-$HOME/.cache/lathe/corpus}}/public
LATHE=${LATHE_BIN:-target/release/lathe}
OUT=fuzz/corpus
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"/{decode,session_toml,album_toml,ddp_reader,job_options,upload}

# decode: the first byte picks the extension hint (0 wav, 1 aiff, 2 flac, 3 mp3, 4 m4a, 5 ogg);
# the rest is the head of a real file (32 KB: enough for headers and a few packets).
seed_decode() { # FILE INDEX
  { printf "\\x$(printf %02x "$2")"; head -c 32768 "$1"; } > "$OUT/decode/$(basename "$1").seed"
}
for f in "$CORPUS"/mixes/*.wav "$CORPUS"/ugly/*.wav; do seed_decode "$f" 0; done
for f in "$CORPUS"/ugly/*.flac; do seed_decode "$f" 2; done
for f in "$CORPUS"/ugly/*.mp3; do seed_decode "$f" 3; done
# The other containers, made from a corpus mix by lathe's independent peers (ffmpeg).
if command -v ffmpeg >/dev/null; then
  m="$CORPUS/mixes/m04_nexuiz_brokenlight_excerpt_44k1.wav"
  ffmpeg -v error -y -t 1 -i "$m" "$WORK/a.aiff" && seed_decode "$WORK/a.aiff" 1
  ffmpeg -v error -y -t 1 -i "$m" -c:a aac "$WORK/a.m4a" && seed_decode "$WORK/a.m4a" 4
  ffmpeg -v error -y -t 1 -i "$m" -c:a libvorbis "$WORK/a.ogg" 2>/dev/null && seed_decode "$WORK/a.ogg" 5 || true
fi

# session_toml: sessions lathe writes (plain, assisted, matched, stems with versions).
m1="$CORPUS/mixes/m04_nexuiz_brokenlight_excerpt_44k1.wav"
m2="$CORPUS/mixes/m01_hyperrogue_graveyard_44k1.wav"
"$LATHE" master "$m1" -o "$WORK/s1" --deliver wav:16 --save-session "$OUT/session_toml/plain.toml" --force >/dev/null 2>&1
"$LATHE" master "$m1" -o "$WORK/s2" --assist --preset loud --deliver flac:24@48000 --save-session "$OUT/session_toml/assist.toml" --force >/dev/null 2>&1
"$LATHE" master "$m1" -o "$WORK/s3" --reference "$m2" --deliver mp3:320 --save-session "$OUT/session_toml/match.toml" --force >/dev/null 2>&1
stems=("$CORPUS"/stems/s01_freedoom_d_runnin/*.wav)
"$LATHE" master --stems "${stems[@]}" -o "$WORK/s4" --deliver wav:24 \
  --version "inst:mute=$(basename "${stems[0]}" .wav)" --save-session "$OUT/session_toml/stems.toml" --force >/dev/null 2>&1 || true

# album_toml: the README's example, and a two-track album that is rendered for the DDP seed.
sed -n '/^```toml$/,/^```$/p' README.md | sed '1d;$d' | awk 'BEGIN{n=0} /^title = "Night Drive"/{p=1} p' > "$OUT/album_toml/readme.toml" || true
ffmpeg -v error -y -t 5 -i "$m1" "$WORK/t1.wav"
ffmpeg -v error -y -t 5 -i "$m2" "$WORK/t2.wav"
cat > "$WORK/album.toml" <<TOML
title = "Seed"
artist = "lathe"
mode = "album"
target = { integrated_lufs = -14.0, true_peak_dbtp = -1.0 }
[[track]]
file = "t1.wav"
title = "One"
isrc = "USXXX2600001"
[[track]]
file = "t2.wav"
title = "Two"
TOML
cp "$WORK/album.toml" "$OUT/album_toml/small.toml"
"$LATHE" album "$WORK/album.toml" -o "$WORK/album-out" --force >/dev/null 2>&1

# ddp_reader: the image's files joined by 0xFF 0x00 0xFF (IMAGE.DAT cut to its first 4 KB).
ddp=$(dirname "$(find "$WORK/album-out" -name DDPMS | head -1)")
{
  first=1
  for f in DDPID DDPMS PQDESCR CDTEXT.BIN IMAGE.DAT CHECKSUM.MD5; do
    [ $first = 1 ] || printf '\xff\x00\xff'
    first=0
    if [ "$f" = IMAGE.DAT ]; then head -c 4096 "$ddp/$f"; else cat "$ddp/$f" 2>/dev/null || true; fi
  done
} > "$OUT/ddp_reader/lathe.seed"

# job_options: what the service's page and scripts send.
printf '%s' '{"preset":"streaming","deliver":["wav:24","mp3:320"]}' > "$OUT/job_options/a.json"
printf '%s' '{"target_lufs":-16,"ceiling_dbtp":-1.5,"deliver":["flac:16@44100"],"versions":["inst:mute=vocals"],"title":"T","artist":"A","notes":"n"}' > "$OUT/job_options/b.json"
printf '%s' '{"amount":0.5,"match":"eq=0.7,width=0.5,loudness=1,dynamics=0.5"}' > "$OUT/job_options/c.json"

# upload: multipart bodies under the boundary B (the target's header), with a tiny WAV.
head -c 4000 "$CORPUS/ugly/u01_mono_44k1_16bit.wav" > "$WORK/tiny.wav"
mp() { # NAME FILENAME CONTENT-FILE
  printf -- '--B\r\nContent-Disposition: form-data; name="%s"' "$1"
  [ -n "$2" ] && printf '; filename="%s"' "$2"
  printf '\r\n\r\n'; cat "$3"; printf '\r\n'
}
printf '%s' '{"deliver":["wav:24"]}' > "$WORK/opts.json"
{ mp mix a.wav "$WORK/tiny.wav"; mp options "" "$WORK/opts.json"; printf -- '--B--\r\n'; } > "$OUT/upload/mix.seed"
{ mp stem a.wav "$WORK/tiny.wav"; mp stem b.wav "$WORK/tiny.wav"; mp session "" "$OUT/session_toml/plain.toml"; printf -- '--B--\r\n'; } > "$OUT/upload/stems.seed"
echo "seeds: $(for d in "$OUT"/*/; do printf '%s %s  ' "$(basename "$d")" "$(ls "$d" | wc -l)"; done)"
