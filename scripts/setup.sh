# Shared setup for .ci/run, scripts/try.sh and bench/run.sh. Source it; it defines functions and
# exports LATHE_CACHE. Everything it installs goes to the system (apt) or to $LATHE_CACHE.

LATHE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export LATHE_CACHE=${LATHE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lathe}
mkdir -p "$LATHE_CACHE"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# What building lathe needs beyond Rust and a C compiler: the SQLite headers (lathe serve's
# job queue links the system SQLite), libopus and pkg-config (Opus deliverables link the
# system libopus).
ensure_build_deps() {
  local missing=()
  for p in libsqlite3-dev libopus-dev libflac-dev pkg-config; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Debian tools used as independent oracles and benchmark peers.
ensure_apt_tools() {
  local missing=()
  command -v ffmpeg >/dev/null || missing+=(ffmpeg)
  command -v sox >/dev/null || missing+=(sox libsox-fmt-base)
  command -v lame >/dev/null || missing+=(lame)
  command -v flac >/dev/null || missing+=(flac)
  command -v shnsplit >/dev/null || missing+=(shntool)
  [ -x /usr/bin/time ] || missing+=(time)
  # Spoken vocals for the stem assistant's tests.
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# A Python venv with the reference meters (libebur128 via pyebur128, pyloudnorm).
ensure_venv() {
  local venv="$LATHE_CACHE/venv"
  if ! "$venv/bin/python" -c "import pyebur128, pyloudnorm, soundfile, numpy, scipy, pystoi, argon2, mutagen" 2>/dev/null; then
    echo "== creating $venv"
    python3 -m venv "$venv"
    # pystoi: an independent intelligibility measure (STOI) for the stem assistant's tests.
    # argon2-cffi: the reference Argon2 (the C library of its authors) that checks the
    # service's stored password hashes. mutagen: an independent reader of the tags lathe
    # writes into AAC (.m4a) and Opus files.
    "$venv/bin/pip" install -q pyebur128 pyloudnorm soundfile numpy scipy pystoi argon2-cffi mutagen
  fi
  export LATHE_REF_PYTHON="$venv/bin/python"
}

# The benchmark peers that live in Python (bench/run.sh only; the tests do not need them).
ensure_bench_peers() {
  ensure_venv
  if ! "$LATHE_REF_PYTHON" -c "import matchering" 2>/dev/null; then
    echo "== installing matchering 2.0.6 into $LATHE_CACHE/venv"
    "$LATHE_CACHE/venv/bin/pip" install -q matchering==2.0.6
  fi
  if ! "$LATHE_REF_PYTHON" -c "import pedalboard" 2>/dev/null; then
    echo "== installing pedalboard into $LATHE_CACHE/venv"
    "$LATHE_CACHE/venv/bin/pip" install -q pedalboard
  fi
}

# The browser test's parts: Debian's Chromium and playwright-core (npm, pinned by
# tests/browser/package-lock.json; it drives the system browser, it downloads none).
ensure_browser() {
  if [ ! -x /usr/bin/chromium ]; then
    echo "== installing chromium"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
  if [ ! -d "$LATHE_ROOT/tests/browser/node_modules/playwright-core" ]; then
    command -v npm >/dev/null || { echo "no npm: the browser test will be skipped"; return 0; }
    (cd "$LATHE_ROOT/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The real-music corpus, built from Debian packages (about 2 minutes, ~250 MB).
ensure_corpus() {
  local out="$LATHE_CACHE/corpus"
  if [ ! -f "$out/public/manifest.json" ]; then
    local script=""
    for s in "${LATHE_CORPUS_SCRIPT:-}" "$LATHE_ROOT/../shared/corpus/make_corpus.sh" /work/shared/corpus/make_corpus.sh; do
      if [ -n "$s" ] && [ -f "$s" ]; then script=$s; break; fi
    done
    if [ -z "$script" ]; then
      echo "== WARNING: corpus script not found (set LATHE_CORPUS_SCRIPT); corpus tests will be SKIPPED"
      return 0
    fi
    echo "== building the corpus into $out (about 2 minutes)"
    as_root env OUT="$out" sh "$script" > "$LATHE_CACHE/corpus.log" 2>&1 || {
      tail -20 "$LATHE_CACHE/corpus.log"; echo "corpus build failed"; return 1; }
  fi
  export LATHE_CORPUS="$out"
}

# A throwaway PostgreSQL server for the tests (Debian's server, initdb'd into a temporary
# folder as the postgres user, listening on a free loopback port with password logins).
# Exports LATHE_TEST_POSTGRES, the URL of a superuser connection (the tests create a database
# each). The server stops with the machine; `stop_postgres` stops it earlier.
ensure_postgres() {
  if [ -n "${LATHE_TEST_POSTGRES:-}" ]; then return 0; fi
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "== installing postgresql"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  local dir port pw=lathe-test-secret
  dir=$(mktemp -d /tmp/lathe-pg.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf '%s\n' "$pw" > "$dir/pw"
  as_root chown -R postgres "$dir"
  as_root runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U lathe --auth=scram-sha-256 \
    --pwfile="$dir/pw" -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log"; echo "initdb failed"; return 1; }
  as_root runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" \
    start >/dev/null || { cat "$dir/server.log"; echo "postgres failed to start"; return 1; }
  export LATHE_PG_DIR="$dir" LATHE_PG_BIN="$bin"
  export LATHE_TEST_POSTGRES="postgres://lathe:$pw@127.0.0.1:$port/postgres"
  echo "== PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir)"
}

stop_postgres() {
  [ -n "${LATHE_PG_DIR:-}" ] || return 0
  as_root runuser -u postgres -- "$LATHE_PG_BIN/pg_ctl" -D "$LATHE_PG_DIR/data" -m fast stop >/dev/null || true
}

# A throwaway S3-compatible server for the object store's tests: s3s-fs (crates.io; a real
# S3 protocol server with SigV4 signatures, multipart uploads and S3's error codes, keeping
# objects as files), installed with cargo (about 2 minutes the first time), on a free
# loopback port with a bucket `lathe-test`. Garage is what a studio would run; its build
# (about 28 minutes on two cores) is too heavy for CI, see docs/SCALING.md.
# Exports LATHE_TEST_S3, LATHE_TEST_S3_ENDPOINT, LATHE_TEST_S3_KEY_ID, LATHE_TEST_S3_SECRET.
install_s3_server() {
  command -v s3s-fs >/dev/null && return 0
  echo "== installing s3s-fs"
  cargo install --locked --quiet s3s-fs@0.14.1 --features binary
}

ensure_s3() {
  if [ -n "${LATHE_TEST_S3:-}" ]; then return 0; fi
  install_s3_server || return 1
  local dir port key=lathe-test-key secret=lathe-test-secret-key
  dir=$(mktemp -d /tmp/lathe-s3.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$dir/root/lathe-test"
  nohup s3s-fs --host 127.0.0.1 --port "$port" --access-key "$key" --secret-key "$secret" \
    "$dir/root" >"$dir/server.log" 2>&1 &
  echo $! > "$dir/pid"
  for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.1
  done
  export LATHE_S3_DIR="$dir" LATHE_TEST_S3="s3://lathe-test" \
    LATHE_TEST_S3_ENDPOINT="http://127.0.0.1:$port" \
    LATHE_TEST_S3_KEY_ID="$key" LATHE_TEST_S3_SECRET="$secret"
  echo "== s3s-fs on 127.0.0.1:$port ($dir)"
}

stop_s3() {
  [ -n "${LATHE_S3_DIR:-}" ] || return 0
  kill "$(cat "$LATHE_S3_DIR/pid")" 2>/dev/null || true
}
