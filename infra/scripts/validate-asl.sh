#!/usr/bin/env bash
# Validates the state machine definitions (statemachines/*.asl.json) with asl-validator.
# The files hold DefinitionSubstitutions placeholders (${Name}), some unquoted where ASL wants a
# number, so they are JSON only after substitution: every placeholder is replaced by a sample
# value of its kind (ARN, queue URL, table name, integer), and a placeholder this script does
# not know fails the check (add it here and to the template's DefinitionSubstitutions).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
validator=${ASL_VALIDATOR:-$repo/.local/npm/node_modules/.bin/asl-validator}
[[ -x "$validator" ]] || { echo "asl-validator not installed: run make install" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

status=0
for file in "$repo"/statemachines/*.asl.json; do
    out="$tmp/$(basename "$file")"
    python3 - "$file" "$out" <<'PY' || { status=1; continue; }
import json, re, sys

src, dst = sys.argv[1], sys.argv[2]
account, region = "123456789012", "us-east-1"
NUMBERS = {"ApprovalThreshold": 50000, "ApprovalTimeoutSeconds": 86400,
           "PaymentRetryIntervalSeconds": 2, "PaymentRetryMaxAttempts": 4,
           "PaymentSettlementDeadlineSeconds": 120, "CancelRunTimeoutSeconds": 60}

def sample(name):
    """Sample value: strings go inside the quotes the file already has, numbers stand bare."""
    if name in NUMBERS:
        return str(NUMBERS[name])
    if name.endswith("FunctionArn"):
        return f"arn:aws:lambda:{region}:{account}:function:shop-{name[:-len('FunctionArn')].lower()}"
    if name.endswith("StateMachineArn"):
        return f"arn:aws:states:{region}:{account}:stateMachine:shop-{name[:-len('StateMachineArn')].lower()}"
    if name.endswith("TopicArn"):
        return f"arn:aws:sns:{region}:{account}:shop-events"
    if name.endswith("QueueUrl"):
        return f"https://sqs.{region}.amazonaws.com/{account}/shop-{name[:-len('QueueUrl')].lower()}"
    if name.endswith("Table"):
        return f"shop-{name.lower()}"
    return None

text = open(src).read()
unknown = sorted({m for m in re.findall(r"\$\{([A-Za-z0-9]+)\}", text) if sample(m) is None})
if unknown:
    sys.exit(f"{src}: no sample value for placeholder(s) {unknown}")
result = re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: sample(m.group(1)), text)
try:
    json.loads(result)
except ValueError as e:
    sys.exit(f"{src}: not JSON after substitution (a string placeholder outside quotes?): {e}")
open(dst, "w").write(result)
PY
    if "$validator" --json-path "$out" >"$tmp/report" 2>&1; then
        echo "asl-validator: ${file#"$repo"/} OK"
    else
        echo "asl-validator: ${file#"$repo"/} INVALID" >&2
        cat "$tmp/report" >&2
        status=1
    fi
done

# Every placeholder of a definition has a DefinitionSubstitutions entry in the template and
# vice versa (LocalStack fails a deployment with an unknown placeholder without naming it).
"$repo/.local/venv-tools/bin/python" - "$repo" <<'PY' || status=1
import os, re, sys
from cfnlint.decode import decode

repo = sys.argv[1]
template, matches = decode(os.path.join(repo, "infra/template.yaml"))
if template is None:
    sys.exit(f"infra/template.yaml does not parse: {matches}")
problems = []
for name, resource in template["Resources"].items():
    if resource.get("Type") != "AWS::Serverless::StateMachine":
        continue
    props = resource["Properties"]
    path = os.path.normpath(os.path.join(repo, "infra", props["DefinitionUri"]))
    used = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", open(path).read()))
    given = set(props.get("DefinitionSubstitutions", {}))
    rel = os.path.relpath(path, repo)
    if used - given:
        problems.append(f"{name}: {rel} uses {sorted(used - given)} without a DefinitionSubstitutions entry")
    if given - used:
        problems.append(f"{name}: DefinitionSubstitutions {sorted(given - used)} not used by {rel}")
for p in problems:
    print(f"validate-asl: {p}", file=sys.stderr)
if not problems:
    print("validate-asl: template DefinitionSubstitutions match the placeholders")
sys.exit(1 if problems else 0)
PY
exit "$status"
