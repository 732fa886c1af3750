#!/usr/bin/env bash
# The integration tests (`make integration-test`, part of `make test`), in the order the one
# local stack allows. Map:
#   1. stores      DynamoDB store tests (`--ignored`): the tables themselves, not the stack
#   2. shared      the tests that share the stack as deployed, side by side (6 threads)
#   3. auth | checkout_refund, side by side: `checkout_refund` breaks only `payment`, which no
#                  `auth` test reaches, and `auth`'s failed logins stay far below the local
#                  per-address limit; both mostly wait (a lock to expire, payment timeouts)
#   4. login_throttle, alone: it lowers auth-api's limits
#   5. outage, then soak | the API fuzzer (infra/scripts/fuzz-api.sh), side by side: outage and
#                  soak break or fault only consumers and workflow steps, the fuzzer calls only
#                  the API's functions and checks only their answers
#   6. no_secrets  every log group the others filled
# A pair's second member runs in the background into a file, printed whole after the first
# member's output; the step fails if either failed. infra/scripts/run-tests.sh adds up the
# "test result" lines and the fuzzer's last line.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
# shellcheck source=../local/env.sh
source infra/local/env.sh
export SHOP_STACK_OUTPUTS="$repo/.local/stack-outputs.json"
: "${SHOP_TEST_FEATURES:?the tests features (the Makefile exports SHOP_TEST_FEATURES)}"

cargo_test() { cargo test --workspace --features "$SHOP_TEST_FEATURES" "$@"; }

scratch=$(mktemp -d)
beside_pid=""
trap '[[ -n "$beside_pid" ]] && kill "$beside_pid" 2>/dev/null; rm -rf "$scratch"' EXIT

# side_by_side NAME FOREGROUND... -- BACKGROUND...: both at once; BACKGROUND's output (in
# $scratch/NAME.log) is printed after FOREGROUND ends; fails if either failed.
side_by_side() {
    local name=$1 foreground=() background=() status=0 other=0
    shift
    while [[ $# -gt 0 && "$1" != "--" ]]; do foreground+=("$1"); shift; done
    shift
    background=("$@")
    "${background[@]}" >"$scratch/$name.log" 2>&1 &
    beside_pid=$!
    "${foreground[@]}" || status=$?
    wait "$beside_pid" || other=$?
    beside_pid=""
    cat "$scratch/$name.log"
    [[ "$status" == 0 && "$other" == 0 ]]
}

# 1. The stores.
cargo_test --lib --test dynamo_stores --test checkout_stores -- --ignored
# Every test binary built before any two run at once (no build inside a background run).
cargo_test --no-run --quiet --test shared --test auth --test checkout_refund --test login_throttle \
    --test outage --test soak --test no_secrets

# 2. The shared binary.
cargo_test --test shared -- --test-threads 6

# 3-4.
side_by_side refund cargo_test --test auth -- cargo_test --test checkout_refund
cargo_test --test login_throttle

# 5.
side_by_side fuzz cargo_test --test outage --test soak -- infra/scripts/fuzz-api.sh

# 6.
cargo_test --test no_secrets
