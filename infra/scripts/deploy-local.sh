#!/usr/bin/env bash
# Builds every function in one cargo run (infra/scripts/build-functions.py) and deploys
# infra/template.yaml to the LocalStack on 127.0.0.1:4566 with the SAM transform.
# Writes the stack outputs, plus the local API base URL, to .local/stack-outputs.json.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../local/env.sh
source "$repo/infra/local/env.sh"
cd "$repo"

stack=${STACK_NAME:-shop}
bucket=${ARTIFACT_BUCKET:-shop-sam-artifacts}

# Build profile.
# - `dev` (the default): debug builds from the cargo run that also serves `make test`'s tests
#   (same profile, same features), so a clean clone compiles the dependency graph once for both
#   (functions built in ~3 min instead of ~11 on 2 cores; CPU-bound dependencies optimised even
#   so, see Cargo.toml). It took over from `fast` once LocalStack's own load was cut (the
#   executor plugin's JSONPath cache, 0.25 s between polls): the timing-bound tests that failed
#   with debug functions on a loaded LocalStack pass, see bench/README.md.
# - `fast`: the release profile's code without fat LTO and the single codegen unit.
# - `release`: exactly what AWS gets (Cargo.toml's [profile.release]); `make bench` deploys
#   that, so its figures are the AWS binaries'.
build_profile=release
case "${LAMBDA_BUILD_PROFILE:-dev}" in
  dev) build_profile=dev ;;
  fast) export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
               CARGO_PROFILE_RELEASE_OPT_LEVEL=2 ;;
  # Its own target directory: the release and the local builds share cargo's `release` profile
  # directory otherwise, and each overwrote the other's binaries (`make bench` then cost the next
  # `make up` a rebuild and relink of every function).
  release) export CARGO_TARGET_DIR="$repo/target/aws" ;;
  *) echo "LAMBDA_BUILD_PROFILE must be fast, dev or release" >&2; exit 2 ;;
esac

# Every function in one cargo run (infra/scripts/build-functions.py), then the same
# template and samconfig.toml as for AWS: the "local" config environment only switches the
# architecture and a few parameters, and points the SDK at LocalStack.
built_template="$LOCAL_DIR/build/template.json"
"$LOCAL_DIR/venv-tools/bin/python" "$repo/infra/scripts/build-functions.py" x86_64 "$built_template" "$build_profile"

python_tools="$LOCAL_DIR/venv-tools/bin/python"
"$python_tools" - "$bucket" "$stack" <<'PY'
import sys, time, boto3
from botocore.exceptions import ClientError
s3 = boto3.client("s3")
name, stack = sys.argv[1], sys.argv[2]
if name not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
    s3.create_bucket(Bucket=name)
# A first deployment that failed leaves the stack in ROLLBACK_COMPLETE (CREATE_FAILED on
# LocalStack when no rollback ran), which can only be deleted: do that, so that fixing the
# template and running make up again is enough.
cfn = boto3.client("cloudformation")
try:
    status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
except ClientError:
    status = None
if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"):
    print(f"stack {stack} is {status} (a failed first deployment): deleting it")
    cfn.delete_stack(StackName=stack)
    for _ in range(120):
        try:
            cfn.describe_stacks(StackName=stack)
        except ClientError:
            break
        time.sleep(1)
PY

sam deploy --config-env local --config-file "$repo/infra/samconfig.toml" \
  --template-file "$built_template" --stack-name "$stack" --s3-bucket "$bucket" \
  --no-confirm-changeset --no-fail-on-empty-changeset --no-progressbar

"$python_tools" - "$stack" "$LOCAL_DIR/stack-outputs.json" <<'PY'
import json, os, sys, boto3
stack, out = sys.argv[1], sys.argv[2]
desc = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
outputs = {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}
endpoint = os.environ["AWS_ENDPOINT_URL"].rstrip("/")
# execute-api hostnames do not resolve offline; LocalStack also serves every API on this path.
# Over HTTPS, as users call an API: LocalStack's certificate names localhost (not 127.0.0.1) and
# start.sh exports it as the CA to trust (LocalCaFile). The plain-HTTP URL stays for the load
# generator of `make bench`, which cannot be given a CA and must not skip verification.
path = f"/_aws/execute-api/{outputs['ApiId']}/v1"
port = endpoint.rsplit(":", 1)[-1]
outputs["ApiBaseUrl"] = f"https://localhost:{port}{path}"
outputs["ApiBaseUrlPlain"] = f"{endpoint}{path}"
outputs["LocalCaFile"] = os.path.join(os.path.dirname(os.path.abspath(out)), "localstack-ca.pem")
# LocalStack has been seen to drop the stage of a SAM API when an update replaces the API's
# deployment (the stack says UPDATE_COMPLETE, the API answers 404): deploy the stage again.
apigw = boto3.client("apigateway")
stages = [s["stageName"] for s in apigw.get_stages(restApiId=outputs["ApiId"])["item"]]
if "v1" not in stages:
    print(f"stage v1 of API {outputs['ApiId']} is missing after the update (stages: {stages}): deploying it again")
    apigw.create_deployment(restApiId=outputs["ApiId"], stageName="v1")
outputs["StackName"] = stack
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(outputs, f, indent=2, sort_keys=True)
os.replace(tmp, out)
print(f"stack {stack}: {desc['StackStatus']}; outputs in {out}")
PY
