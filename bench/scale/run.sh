#!/usr/bin/env bash
# Throughput of lathe serve scaled out: one web process and W worker processes (W = 1, 2, 4 by
# default) on one PostgreSQL database and a shared data folder; N jobs of one file, ordered at
# once; jobs per hour per worker process from the time the last one finishes.
#
#   bash bench/scale/run.sh FILE [N] [W...]     (needs cargo build --release -p lathe-cli)
#
# The database: LATHE_TEST_POSTGRES (a superuser URL; scripts/setup.sh: ensure_postgres); a
# fresh database is made for each run.
set -euo pipefail
cd "$(dirname "$0")/../.."
FILE=$1; N=${2:-12}; shift 2 || true
WORKERS=("$@"); [ ${#WORKERS[@]} -gt 0 ] || WORKERS=(1 2 4)
L=$PWD/target/release/lathe
: "${LATHE_TEST_POSTGRES:?set LATHE_TEST_POSTGRES (scripts/setup.sh: ensure_postgres)}"
BASE=${LATHE_TEST_POSTGRES%/*}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
for W in "${WORKERS[@]}"; do
  DB=lathe_bench_scale_$W
  psql -q "$LATHE_TEST_POSTGRES" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" 2>/dev/null
  export LATHE_DB_URL=$BASE/$DB
  WORK=$(mktemp -d); P=$(port); PIDS=()
  "$L" serve --role web --addr 127.0.0.1:$P --data "$WORK/data" 2>"$WORK/web.log" & PIDS+=($!)
  until curl -s -o /dev/null http://127.0.0.1:$P/; do sleep 0.05; done
  for _ in $(seq "$W"); do "$L" serve --role worker --workers 1 --data "$WORK/data" 2>>"$WORK/workers.log" & PIDS+=($!); done
  START=$(date +%s.%N)
  for _ in $(seq "$N"); do
    curl -s -F "mix=@$FILE" -F 'options={"preset":"streaming","deliver":["wav:24"]}' http://127.0.0.1:$P/api/jobs >/dev/null
  done
  ORDERED=$(date +%s.%N)
  until [ "$(psql -Atq "$LATHE_DB_URL" -c "SELECT count(*) FROM jobs WHERE state IN ('done','failed')")" = "$N" ]; do sleep 0.1; done
  END=$(date +%s.%N)
  FAILED=$(psql -Atq "$LATHE_DB_URL" -c "SELECT count(*) FROM jobs WHERE state = 'failed'")
  kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null || true
  python3 - "$W" "$N" "$START" "$ORDERED" "$END" "$FAILED" <<'PY'
import sys
w, n, start, ordered, end, failed = int(sys.argv[1]), int(sys.argv[2]), *map(float, sys.argv[3:6]), int(sys.argv[6])
t = end - start
print(f"{w} worker(s): {n} jobs in {t:.1f} s (ordering {ordered - start:.1f} s), {n / t * 3600:.0f} jobs/hour, "
      f"{n / t * 3600 / w:.0f} per worker process, {t / n:.2f} s per job; failed {failed}")
PY
  rm -rf "$WORK"
done
