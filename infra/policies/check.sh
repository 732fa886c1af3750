#!/usr/bin/env bash
# make lint's policy check: first each rule file against its own examples (every rule must
# fail its bad ones), then the template as deployed (SAM's transform applied) against every rule.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
guard="$repo/.local/bin/cfn-guard"
[[ -x "$guard" ]] || { echo "cfn-guard missing: run make install" >&2; exit 1; }

for rules in "$here"/*.guard; do
    name="$(basename "$rules" .guard)"
    tests="$here/tests/${name}_tests.yaml"
    [[ -f "$tests" ]] || { echo "$rules has no examples ($tests)" >&2; exit 1; }
    # `cfn-guard test` exits non-zero when a rule does not give the expected PASS/FAIL/SKIP.
    if ! out="$("$guard" test --rules-file "$rules" --test-data "$tests" 2>&1)"; then
        echo "$out" >&2
        echo "policy examples: $name rules do not judge their examples as expected" >&2
        exit 1
    fi
done
echo "policy examples: every rule judged its examples as expected"

rendered="$repo/.local/template.rendered.json"
"$repo/.local/venv-tools/bin/python" "$here/render.py" "$repo/infra/template.yaml" "$rendered"
"$guard" validate --rules "$here" --data "$rendered" --show-summary fail
echo "policies: infra/template.yaml (as deployed) passes every rule in infra/policies"
