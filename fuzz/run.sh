#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 20: the CI smoke run) on the stable toolchain
# (cargo fuzz without a sanitizer: libFuzzer's coverage and crash detection; Rust's own checks
# catch what a sanitizer would in safe code). Crashes land in fuzz/artifacts/<target>/ and fail
# the run. Prints one line per target: executions, coverage, corpus size.
# Usage: bash fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-20}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(decode session_toml album_toml ddp_reader job_options upload)
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz@0.13.2 || cargo install cargo-fuzz@0.13.2
[ -d fuzz/corpus/decode ] || bash fuzz/seeds.sh
cargo fuzz build -O --sanitizer none
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log=$(mktemp)
  if ! cargo fuzz run -O --sanitizer none "$t" "fuzz/corpus/$t" -- \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=20 -max_len=262144 \
      -print_final_stats=1 >"$log" 2>&1; then
    status=1
    echo "== $t: FAILED"; grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" | head -20
  fi
  execs=$(grep -E "^stat::number_of_executed_units" "$log" | awk '{print $2}')
  cov=$(grep -oE "cov: [0-9]+" "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -oE "ft: [0-9]+" "$log" | tail -1 | awk '{print $2}')
  units=$(ls "fuzz/corpus/$t" | wc -l)
  echo "$t: ${SECONDS_EACH}s, ${execs:-?} executions, coverage ${cov:-?} edges / ${ft:-?} features, corpus ${units} inputs"
  rm -f "$log"
done
exit $status
