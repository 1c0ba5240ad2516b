#!/usr/bin/env bash
# Stop the PDS started by start.sh, by the PID it recorded (SIGTERM, so the
# harness closes cleanly and deletes its temp data dir; SIGKILL after 5 s).
# Honours PDS_RUN_DIR like start.sh.
set -euo pipefail
cd "$(dirname "$0")"
RUN_DIR="${PDS_RUN_DIR:-$PWD/.run}"
PID_FILE="$RUN_DIR/pds.pid"
[ -f "$PID_FILE" ] || { echo "pds-harness: not running" >&2; exit 0; }
PID=$(cat "$PID_FILE")
if kill -0 "$PID" 2>/dev/null; then
  kill -TERM "$PID"
  for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID"; fi
fi
rm -f "$PID_FILE" "$RUN_DIR/ready.json"
echo "pds-harness: stopped pid $PID" >&2
