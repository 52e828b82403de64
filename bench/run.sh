#!/usr/bin/env bash
# Side-by-side benchmarks: the same jobs through lathe and through the peers, on real music.
# Installs what is missing, builds the corpus and lathe (release), runs, writes
# docs/BENCHMARKS.md.   Usage: bench/run.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_build_deps
ensure_apt_tools
ensure_venv
ensure_bench_peers
ensure_corpus
[ -n "${LATHE_CORPUS:-}" ] || { echo "the benchmarks need the corpus"; exit 1; }
cargo build --release -p lathe-cli
QUICK=0; [ "${1:-}" = "--quick" ] && QUICK=1
CRITERION_OUT="$LATHE_CACHE/bench/criterion.txt"
mkdir -p "$LATHE_CACHE/bench"
if [ $QUICK = 0 ]; then
  cargo bench -p lathe-dsp --bench meters --bench processors -- --warm-up-time 1 --measurement-time 3 2>&1 \
    | tee "$CRITERION_OUT" | grep -E "time:" || true
fi
"$LATHE_REF_PYTHON" bench/compare.py --quick "$QUICK" --criterion "$CRITERION_OUT" \
  --out docs/BENCHMARKS.md
