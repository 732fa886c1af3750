#!/usr/bin/env bash
# Runs the host-executor test suite against the LocalStack on 127.0.0.1:4566 (start.sh first).
# Extra arguments go to pytest, e.g. infra/local/test.sh -k timeout
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"
PY="$LOCAL_DIR/venv-localstack/bin/python"
[[ -x "$PY" ]] || { echo "not installed: run infra/local/install.sh" >&2; exit 1; }
if ! curl -fsS -m 3 "$AWS_ENDPOINT_URL/_localstack/health" >/dev/null 2>&1; then
    echo "LocalStack is not running at $AWS_ENDPOINT_URL: start it with infra/local/start.sh" >&2
    exit 1
fi
cd "$HERE"
exec "$PY" -m pytest -p no:cacheprovider -q "$HERE/tests" "$@"
