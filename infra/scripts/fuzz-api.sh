#!/usr/bin/env bash
# Fuzzes the deployed local API against its contract, api/openapi.json, with schemathesis
# (pinned in infra/local/requirements-fuzz.txt): generated requests for every operation,
# valid and invalid, and every response must be one the document describes — no 5xx, a
# documented status, content type, body schema and headers. Run by `make integration-test`
# after the cargo suites; needs `make up`.
#
#   FUZZ_MIN_CASES  fail unless at least this many requests were generated (default 1000)
#   FUZZ_SEED       replay a run (its seed is printed at the end)
#   FUZZ_ARGS       extra `st run` arguments, e.g. "--include-operation-id getCart -n 5"
#   FUZZ_TIMEOUT    seconds before the run is stopped and fails (default 600; it takes ~2 min)
#
# Who is who: the run registers and signs in a user of its own (fuzz-<time>-<n>@fuzz.shop.local)
# so fuzzed logins and cart writes touch no account other tests use, and signs in the seeded
# local admin (a success never counts towards a lock) so approve/reject run their admin path.
# api/fuzz/hooks.py puts the tokens on the requests.
#
# Ends with "<operations> passed, <failed> failed in <s>s" (one test per operation, from the
# JUnit report), which infra/scripts/run-tests.sh adds to its total.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
# shellcheck source=infra/local/env.sh
source infra/local/env.sh

st="$LOCAL_DIR/venv-fuzz/bin/st"
[[ -x "$st" ]] || { echo "fuzz-api: $st missing: run make install" >&2; exit 1; }
# The document's routes and auth are the template's (api/fuzz/check_routes.py).
"$LOCAL_DIR/venv-fuzz/bin/python" api/fuzz/check_routes.py
base=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ApiBaseUrl"])' "$LOCAL_DIR/stack-outputs.json")
# Over HTTPS with LocalStack's certificate as the only CA (infra/local/start.sh exports it).
ca="$LOCAL_DIR/localstack-ca.pem"
curl() { command curl --cacert "$ca" "$@"; }
report="$LOCAL_DIR/fuzz-report"
rm -rf "$report"
mkdir -p "$report"

# POST a JSON body; prints the response body, fails unless the status is $3.
post() {
    local path="$1" body="$2" want="$3" out status
    out=$(mktemp)
    status=$(curl -sS -o "$out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$body" "$base$path")
    if [[ "$status" != "$want" ]]; then
        echo "fuzz-api: POST $path answered $status, expected $want: $(head -c 300 "$out")" >&2
        rm -f "$out"
        return 1
    fi
    cat "$out"
    rm -f "$out"
}
token_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }

email="fuzz-$(date +%s)-$RANDOM@fuzz.shop.local"
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
credentials=$(printf '{"email": "%s", "password": "%s"}' "$email" "$password")
post /auth/register "$credentials" 202 >/dev/null
SHOP_FUZZ_TOKEN=$(post /auth/login "$credentials" 200 | token_of)
# The seeded local admin (shop_core::auth::DEMO_USERS; `shopctl seed` resets it).
SHOP_FUZZ_ADMIN_TOKEN=$(post /auth/login '{"email": "admin@shop.local", "password": "admin-password"}' 200 | token_of)
# Real ids for the hooks to mix in: an order of the fuzz user (its cart is empty, so the
# workflow fails it at once: CartEmpty) and a product of the catalog.
SHOP_FUZZ_ORDER_ID=$(curl -sS -X POST -H "Authorization: Bearer $SHOP_FUZZ_TOKEN" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: fuzz-$(date +%s)" -d '{"paymentToken": "tok_ok"}' "$base/checkout" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin).get("orderId", ""))')
SHOP_FUZZ_SKU=$(curl -sS "$base/products?limit=1" | python3 -c 'import json,sys; print((json.load(sys.stdin).get("items") or [{}])[0].get("sku", ""))')
# A partner key of the run's own for GET /partner/products (shopctl, built by the cargo
# suites before this), revoked when the run ends. Its value stays in this process's
# environment: never printed.
shopctl="${CARGO_TARGET_DIR:-$repo/target}/debug/shopctl"
[[ -x "$shopctl" ]] || { echo "fuzz-api: $shopctl missing: build the workspace first" >&2; exit 1; }
partner=$("$shopctl" partner-key create --name "fuzz-$(date +%s)-$RANDOM" --stack-outputs "$LOCAL_DIR/stack-outputs.json") || true
partner_key_id=$(awk '$1 == "id" {print $2}' <<<"$partner")
SHOP_FUZZ_PARTNER_KEY=$(awk '$1 == "value" {print $2}' <<<"$partner")
unset partner
[[ -n "$partner_key_id" && -n "$SHOP_FUZZ_PARTNER_KEY" ]] || { echo "fuzz-api: shopctl partner-key create failed" >&2; exit 1; }
trap '"$shopctl" partner-key revoke --id "$partner_key_id" --stack-outputs "$LOCAL_DIR/stack-outputs.json" >/dev/null || true' EXIT
export SHOP_API_URL="$base" SHOP_API_CA="$ca" SHOP_FUZZ_TOKEN SHOP_FUZZ_ADMIN_TOKEN SHOP_FUZZ_ORDER_ID SHOP_FUZZ_SKU SHOP_FUZZ_PARTNER_KEY
# Hypothesis keeps its caches under .local, not in the work tree.
export HYPOTHESIS_STORAGE_DIRECTORY="$LOCAL_DIR/hypothesis"

seed_args=()
[[ -n "${FUZZ_SEED:-}" ]] && seed_args=(--seed "$FUZZ_SEED")
echo "fuzz-api: schemathesis $("$st" --version | awk '{print $NF}') against $base as $email (order ${SHOP_FUZZ_ORDER_ID:-none}, sku ${SHOP_FUZZ_SKU:-none})"
start=$(date +%s.%N)
set +e
# shellcheck disable=SC2086 # FUZZ_ARGS is a list of arguments
timeout --signal=INT --kill-after=30 "${FUZZ_TIMEOUT:-600}" \
    "$st" --config-file api/fuzz/schemathesis.toml run api/openapi.json --url "$base" --tls-verify "$ca" \
    --no-color --report junit --report-junit-path "$report/junit.xml" "${seed_args[@]}" ${FUZZ_ARGS:-} \
    2>&1 | tee "$report/output.txt"
status=${PIPESTATUS[0]}
set -e
elapsed=$(python3 -c 'import sys,time; print(f"{time.time() - float(sys.argv[1]):.1f}")' "$start")

python3 - "$report" "$status" "$elapsed" "${FUZZ_MIN_CASES:-1000}" <<'PY'
import re, sys, xml.etree.ElementTree as ET
report, status, elapsed, minimum = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
text = open(f"{report}/output.txt", errors="replace").read()
match = re.search(r"^\s*(\d+) generated", text, re.M)
cases = int(match.group(1)) if match else 0
passed = failed = 0
try:
    for case in ET.parse(f"{report}/junit.xml").getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is None:
            passed += 1
except (OSError, ET.ParseError) as err:
    print(f"fuzz-api: no JUnit report ({err})")
if status != 0 and failed == 0:
    failed = 1  # schemathesis failed before it could report (schema, network…)
if cases < minimum:
    print(f"fuzz-api: only {cases} requests generated, at least {minimum} wanted")
    failed += 1
print(f"fuzz-api: {cases} generated requests across {passed + failed} operations, report in {report}")
print(f"{passed} passed, {failed} failed in {elapsed}s")
sys.exit(1 if failed else 0)
PY
