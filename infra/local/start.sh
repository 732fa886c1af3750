#!/usr/bin/env bash
# Starts LocalStack on the host (no Docker) in the background, with our Lambda host executor.
# Log: .local/localstack.log   PID: .local/localstack.pid   Idempotent: exits 0 if already healthy.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LOCAL_DIR="$REPO/.local"
PIDFILE="$LOCAL_DIR/localstack.pid"
LOGFILE="$LOCAL_DIR/localstack.log"
HEALTH_URL="http://127.0.0.1:4566/_localstack/health"
START_TIMEOUT="${LOCALSTACK_START_TIMEOUT:-60}"
PY="$LOCAL_DIR/venv-localstack/bin/python"

healthy() { curl -fsS -m 2 "$HEALTH_URL" >/dev/null 2>&1; }
running_pid() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid; pid="$(cat "$PIDFILE")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

[[ -x "$PY" ]] || { echo "LocalStack is not installed: run infra/local/install.sh" >&2; exit 1; }

if pid="$(running_pid)"; then
    if healthy; then echo "LocalStack already running (pid $pid)"; exit 0; fi
    echo "LocalStack (pid $pid) is running but not healthy: restarting it" >&2
    "$HERE/stop.sh"
elif healthy; then
    echo "Something else already serves $HEALTH_URL (not started by start.sh): using it" >&2
    exit 0
fi

mkdir -p "$LOCAL_DIR/localstack"
cd "$REPO"
# How an event reaches its consumer quickly (bench/delivery.py measures it): the template gives
# every standard queue's event source mapping a 10 s batching window on LocalStack, which
# LocalStack turns into a plain SQS long poll (it answers at the first message, as AWS's
# pollers do), so an idle queue costs one request per 10 s and no back-off delays an event.
# Between two polls that found messages LocalStack sleeps LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC
# (1 s by default: a backlog drained 10 messages a second per queue, and an event right after
# another waited up to 1 s). 0.25 s here: at 0.05 s nearly every message became an invocation
# of its own, and under the integration tests' load LocalStack's one Python core saturated
# (Step Functions runs took two minutes; the 1 s default passed). The empty-poll back-off now
# only follows a long poll that timed out, and the FIFO queue's short polls (no batching
# window on FIFO queues).
# setsid: LocalStack gets its own process group, so stop.sh can kill it with everything it spawned
env \
    GATEWAY_LISTEN=127.0.0.1:4566 \
    GATEWAY_SERVER=hypercorn \
    OVERRIDE_IN_DOCKER=0 \
    LOCALSTACK_HOST=127.0.0.1:4566 \
    SQS_ENDPOINT_STRATEGY=path \
    SQS_DISABLE_CLOUDWATCH_METRICS=1 \
    DISABLE_EVENTS=1 \
    SKIP_SSL_CERT_DOWNLOAD=1 \
    DNS_ADDRESS=0 \
    FILESYSTEM_ROOT="$LOCAL_DIR/localstack" \
    LAMBDA_RUNTIME_EXECUTOR=host \
    LAMBDA_KEEPALIVE_MS="${LAMBDA_KEEPALIVE_MS:-600000}" \
    LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC="${LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC:-0.5}" \
    LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC="${LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC:-0.25}" \
    LS_LOG="${LS_LOG:-info}" \
    setsid "$PY" -m localstack.runtime.main >"$LOGFILE" 2>&1 </dev/null &
echo $! >"$PIDFILE"
pid=$!

start=$(date +%s.%N)
deadline=$(( $(date +%s) + START_TIMEOUT ))
until healthy; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "LocalStack exited during start-up; last lines of $LOGFILE:" >&2
        tail -n 40 "$LOGFILE" >&2
        rm -f "$PIDFILE"
        exit 1
    fi
    if (( $(date +%s) >= deadline )); then
        echo "LocalStack not healthy after ${START_TIMEOUT}s; last lines of $LOGFILE:" >&2
        tail -n 40 "$LOGFILE" >&2
        "$HERE/stop.sh" || true
        exit 1
    fi
    sleep 0.2
done
echo "LocalStack ready on http://127.0.0.1:4566 (pid $pid, $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s, log $LOGFILE)"
# LocalStack serves TLS on the same port with a certificate it generates (SKIP_SSL_CERT_DOWNLOAD:
# self-signed, CN=localhost). Its certificate is what clients of https://localhost:4566 trust,
# explicitly: tests, curl --cacert and the fuzzer read this copy.
cert="$LOCAL_DIR/localstack/var/lib/localstack/cache/server.test.pem.crt"
if [[ -f "$cert" ]]; then
    cp "$cert" "$LOCAL_DIR/localstack-ca.pem"
else
    echo "warning: $cert not found; https://localhost:4566 cannot be verified" >&2
fi
