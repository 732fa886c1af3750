#!/usr/bin/env bash
# Prints whether the LocalStack started by start.sh is running and healthy. Exit 0 if healthy.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PIDFILE="$REPO/.local/localstack.pid"
pid="$(cat "$PIDFILE" 2>/dev/null || true)"
if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then echo "process: running (pid $pid)"; else echo "process: not running"; fi
if health="$(curl -fsS -m 2 http://127.0.0.1:4566/_localstack/health 2>/dev/null)"; then
    echo "health: ok"
    printf '%s\n' "$health" | "$REPO/.local/venv-localstack/bin/python" -c '
import json, sys
h = json.load(sys.stdin)
print("version:", h.get("version"), " edition:", h.get("edition"))
svcs = h.get("services", {})
for state in ("running", "available"):
    names = sorted(k for k, v in svcs.items() if v == state)
    print(f"{state}: {len(names)}" + (": " + ", ".join(names) if state == "running" else ""))
' 2>/dev/null || true
    exit 0
fi
echo "health: unreachable (http://127.0.0.1:4566)"
exit 1
