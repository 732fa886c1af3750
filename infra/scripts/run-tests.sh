#!/usr/bin/env bash
# Runs the unit, executor and integration test suites (make targets), keeps their output in
# .local/test-output.log, and ends with one line that adds up every runner's results.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
log=.local/test-output.log
mkdir -p .local

make --no-print-directory unit-test executor-test integration-test 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# cargo: "test result: ok. 46 passed; 0 failed; 1 ignored; ..."; pytest: "10 passed in 11.97s".
python3 - "$log" "$status" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
passed = failed = ignored = 0
for p, f, i in re.findall(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", text):
    passed, failed, ignored = passed + int(p), failed + int(f), ignored + int(i)
for line in re.findall(r"^(?:=+ )?((?:\d+ \w+,? ?)+) in [\d.]+s", text, re.M):  # pytest's last line
    for n, kind in re.findall(r"(\d+) (\w+)", line):
        if kind == "passed":
            passed += int(n)
        elif kind in ("failed", "error", "errors"):
            failed += int(n)
        elif kind == "skipped":
            ignored += int(n)
if sys.argv[2] != "0" and failed == 0:
    failed = 1  # a suite failed before it could report (build error, stack down...)
print(f"\ntotal: {passed} passed, {failed} failed, {ignored} skipped")
PY
exit "$status"
