#!/usr/bin/env bash
# Runs the unit, executor and integration test suites (make targets), keeps their output in
# .local/test-output.log, and ends with one line that adds up every runner's results.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
log=.local/test-output.log
mkdir -p .local

# CPU seconds LocalStack's one Python process has used (user + system; not its function
# processes), or nothing when it is not running here. Where the integration tests' time goes:
# that process serves every AWS call, under one GIL, so its CPU time is the suite's floor.
localstack_cpu() {
    local pid
    pid=$(cat .local/localstack.pid 2>/dev/null) || return 0
    [[ -r /proc/$pid/stat ]] || return 0
    # Fields after the command name (which may hold spaces): utime and stime are 12 and 13.
    sed 's/^.*) //' "/proc/$pid/stat" | awk -v pid="$pid" -v hz="$(getconf CLK_TCK)" '{printf "%s %.0f", pid, ($12 + $13) / hz}'
}
cpu_before=$(localstack_cpu)
started=$(date +%s)

make --no-print-directory unit-test executor-test integration-test 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

cpu_after=$(localstack_cpu)
if [[ -n "$cpu_before" && "${cpu_before%% *}" == "${cpu_after%% *}" ]]; then
    wall=$(( $(date +%s) - started ))
    used=$(( ${cpu_after##* } - ${cpu_before##* } ))
    echo "LocalStack: ${used} CPU-s of its one process in ${wall} s of tests ($(( 100 * used / (wall > 0 ? wall : 1) )) % of one core)" | tee -a "$log"
fi

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
