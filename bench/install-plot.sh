#!/usr/bin/env bash
# Installs matplotlib into .local/venv-plot (once; the pin is bench/requirements-plot.txt).
# Its own venv: LocalStack's venv keeps only what LocalStack needs, and CI never plots.
# Prints the venv's python on stdout.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.local/venv-plot"
stamp="$venv/.requirements"
if ! cmp -s "$repo/bench/requirements-plot.txt" "$stamp" 2>/dev/null; then
    base="$repo/.local/venv-localstack/bin/python"
    [[ -x $base ]] || base="$(command -v python3)"
    "$base" -m venv --clear "$venv" >&2 || { base="$(command -v python3)"; "$base" -m venv --clear "$venv" >&2; }
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$repo/bench/requirements-plot.txt" >&2
    cp "$repo/bench/requirements-plot.txt" "$stamp"
fi
echo "$venv/bin/python"
