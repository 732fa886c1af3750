#!/usr/bin/env bash
# Stops the LocalStack started by start.sh: TERM, up to 5 s grace, then KILL - for LocalStack and
# every process it started (DynamoDB Local's java, Lambda bootstrap processes, which run in their
# own sessions). Only that process tree is touched. Idempotent. After a test run LocalStack did not
# finish its own shutdown within 15 s either, and it keeps nothing a KILL could lose (it runs
# without persistence), so the grace is short.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PIDFILE="$REPO/.local/localstack.pid"
GRACE="${LOCALSTACK_STOP_GRACE:-5}"

if [[ ! -f "$PIDFILE" ]]; then echo "LocalStack not running (no pid file)"; exit 0; fi
pid="$(cat "$PIDFILE")"
if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
    echo "LocalStack not running (stale pid file)"; rm -f "$PIDFILE"; exit 0
fi

starttime() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null || true; }
descendants() { local c; for c in $(pgrep -P "$1" 2>/dev/null || true); do echo "$c"; descendants "$c"; done; }

# snapshot the tree now: once LocalStack is gone its children are re-parented and unfindable
declare -A tree=()
for p in "$pid" $(descendants "$pid"); do tree[$p]="$(starttime "$p")"; done
alive() { [[ -n "${tree[$1]:-}" && "$(starttime "$1")" == "${tree[$1]}" ]]; }

kill -TERM "$pid" 2>/dev/null || true
for ((i = 0; i < GRACE * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
done
if kill -0 "$pid" 2>/dev/null; then
    echo "LocalStack did not stop within ${GRACE}s: killing it" >&2
fi
# whatever is left of the tree (including LocalStack itself if it hung) gets KILL
for p in "${!tree[@]}"; do
    if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
done
# LocalStack's own process group (start.sh runs it under setsid)
kill -KILL -- "-$pid" 2>/dev/null || true
for ((i = 0; i < 25; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
rm -f "$PIDFILE"
echo "LocalStack stopped"
