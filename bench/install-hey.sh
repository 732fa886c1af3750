#!/usr/bin/env bash
# Installs the load generator `hey` (rakyll/hey) if it is missing. Chosen because Debian/Ubuntu
# ship it as a package (seconds to install, nothing to compile, unlike `cargo install oha`),
# it bounds a run by request count (-n), and `-o csv` gives every request's latency, so the
# bench computes exact percentiles itself. Falls back to `go install` when apt is unavailable.
set -euo pipefail
command -v hey >/dev/null 2>&1 && exit 0
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo -n"
if command -v apt-get >/dev/null 2>&1; then
    $sudo apt-get install -y -qq hey >/dev/null 2>&1 || { $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq hey >/dev/null; }
elif command -v go >/dev/null 2>&1; then
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    GOBIN="$repo/.local/bin" go install github.com/rakyll/hey@v0.1.4
    echo "hey installed into $repo/.local/bin (put it on PATH)" >&2
fi
command -v hey >/dev/null 2>&1 || { echo "could not install hey: install it (apt-get install hey) and re-run" >&2; exit 1; }
