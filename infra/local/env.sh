# shellcheck shell=bash
# Source me (from any directory): `. infra/local/env.sh`
# Points AWS SDKs/CLIs at LocalStack on 127.0.0.1:4566 with dummy credentials, and puts the
# tools installed by infra/local/install.sh (cargo lambda, sam, cfn-lint, asl-validator, cfn-guard) on PATH.
_infra_local_dir="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
export REPO_ROOT="${REPO_ROOT:-$(cd "$_infra_local_dir/../.." && pwd)}"
export LOCAL_DIR="$REPO_ROOT/.local"

export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL=http://127.0.0.1:4566
# SAM CLI telemetry would try to reach the internet
export SAM_CLI_TELEMETRY=0

case ":$PATH:" in
    *":$LOCAL_DIR/venv-tools/bin:"*) ;;
    *) PATH="$LOCAL_DIR/venv-tools/bin:$PATH" ;;
esac
case ":$PATH:" in
    *":$LOCAL_DIR/npm/node_modules/.bin:"*) ;;
    *) PATH="$LOCAL_DIR/npm/node_modules/.bin:$PATH" ;;
esac
case ":$PATH:" in
    *":$LOCAL_DIR/bin:"*) ;;
    *) PATH="$LOCAL_DIR/bin:$PATH" ;;
esac
export PATH
unset _infra_local_dir
