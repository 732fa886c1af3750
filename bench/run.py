"""``make bench``: measures every function and the API end to end, writes bench/results.{json,md}.

Run with the LocalStack venv's Python after ``make up`` (the Makefile does both). Figures
are printed and written, never asserted: a benchmark does not gate anything.

Environment knobs: BENCH_COLD (cold starts per function, default 15), BENCH_WARM (rounds of
every sample event, default 40), BENCH_E2E_REQUESTS (per scenario, default 400),
BENCH_CONCURRENCY (default 4), BENCH_CHECKOUTS (default 40), BENCH_DRAIN_MESSAGES (default 500),
BENCH_LOG_LEVEL (RUST_LOG of the measured processes, default info),
BENCH_SKIP_BUILD=1, BENCH_SKIP_E2E=1, BENCH_FUNCTIONS (comma-separated: measure only these functions),
BENCH_THUMBNAIL_RUNS (thumbnails() calls per image, default 5), BENCH_SKIP_THUMBNAIL=1.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FLOOR = "bench-baseline"  # bench/baseline: the empty function every warm figure sits on
sys.path.insert(0, str(HERE))

import boto3  # noqa: E402  (LocalStack venv)

import checkout  # noqa: E402
import cost  # noqa: E402
import delivery  # noqa: E402
import e2e  # noqa: E402
import functions as fns  # noqa: E402
import report  # noqa: E402
import thumbnail  # noqa: E402
from harness import TimingProxy  # noqa: E402

TARGETS = {
    "init_ms": 8.0,
    "first_invoke_beyond_aws_ms": 2.0,
    "peak_rss_mb": 12.0,
    "zip_mb": 3.0,
    "warm_beyond_aws_p50_ms": 0.3,
}

METHOD = {
    "init": "spawn of the release bootstrap -> its first GET /runtime/invocation/next on our Runtime API (bench/harness.py)",
    "invocation": "event written to the runtime's /next -> its /response request line arrived",
    "beyond_aws": "invocation duration minus the time of the AWS calls made inside it; AWS calls are timed by a loopback "
                  "proxy the function's SDK talks to (AWS_ENDPOINT_URL), from its request line arriving to its response "
                  "written, so SDK serialisation, signing, retries' back-off, JSON (de)serialisation, routing, logging "
                  "and the Runtime API round trip all count as ours",
    "rss": "VmHWM of the process from /proc/<pid>/status",
}


def loadavg() -> float:
    return os.getloadavg()[0]


def cpu_busy(seconds: float = 1.0) -> float:
    """Fraction of all CPUs busy over ``seconds`` (from /proc/stat), sampled while the bench
    itself is idle: work of other processes that would skew the figures."""
    def snap():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait
    t0, i0 = snap()
    time.sleep(seconds)
    t1, i1 = snap()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def machine() -> dict:
    mem_gb = None
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem_gb = round(kb / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": fns.cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "kernel": platform.release(),
        "rustc": subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip(),
    }


def build() -> dict:
    """x86_64: the artifacts `make bench` just built and deployed with the AWS release profile
    (``LAMBDA_BUILD_PROFILE=release make up``: one ``cargo lambda build --release`` run into
    ``target/aws/lambda/<function>/``), zipped here the way ``sam deploy`` packages them.
    arm64: the same release build cross-compiled by cargo lambda (zig as the linker) for
    aarch64, after installing that target's std with rustup if it is missing."""
    notes = {"x86_64": "the bootstraps of the deployed build (target/aws/lambda), zipped with deflate as sam deploy does"}
    cargo_lambda = REPO / ".local" / "venv-tools" / "bin" / "cargo-lambda"
    env = dict(os.environ, PATH=f"{cargo_lambda.parent}:{os.environ.get('PATH', '')}")
    # The floor: an empty function built like the others (bench/baseline), x86_64 only.
    subprocess.run([str(cargo_lambda), "lambda", "build", "--release", "--bin", FLOOR], cwd=REPO, env=env, check=False)
    target = "aarch64-unknown-linux-gnu"

    def installed() -> bool:
        listed = subprocess.run(["rustup", "target", "list", "--installed"], capture_output=True, text=True).stdout
        return target in listed.split()

    if not installed():
        subprocess.run(["rustup", "target", "add", target], check=False)
    if not installed():
        notes["arm64"] = f"not measured: rustup could not install the {target} std"
        return notes
    t0 = time.time()
    for f in fns.discover(REPO):
        print(f"bench: building {f} for arm64 ...", file=sys.stderr, flush=True)
        done = subprocess.run([str(cargo_lambda), "lambda", "build", "--release", "--output-format", "zip", "--arm64",
                               "--lambda-dir", "target/lambda-arm64", "--bin", f], cwd=REPO, env=env)
        if done.returncode != 0:
            notes["arm64"] = f"not measured: cargo lambda build --arm64 failed for {f}"
            return notes
    notes["arm64_build_s"] = round(time.time() - t0, 1)
    return notes


def deployed_functions(outputs: dict) -> dict[str, dict]:
    cfn = boto3.client("cloudformation")
    lam = boto3.client("lambda")
    resources = cfn.describe_stack_resources(StackName=outputs.get("StackName", "shop"))["StackResources"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources
                if r["ResourceType"] == "AWS::Lambda::Function"}
    out = {}
    for f in fns.discover(REPO):
        name = physical.get(fns.logical_id(f))
        if name:
            out[f] = lam.get_function_configuration(FunctionName=name)
    return out


def main() -> int:
    cold = int(os.environ.get("BENCH_COLD", "15"))
    warm = int(os.environ.get("BENCH_WARM", "40"))
    requests = int(os.environ.get("BENCH_E2E_REQUESTS", "400"))
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "4"))
    checkouts = int(os.environ.get("BENCH_CHECKOUTS", "40"))
    drain = int(os.environ.get("BENCH_DRAIN_MESSAGES", "500"))
    started = time.time()
    result: dict = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True).stdout.strip(),
        "machine": machine(),
        "method": METHOD,
        "targets": TARGETS,
        "parameters": {"cold_starts": cold, "warm_rounds": warm, "e2e_requests": requests,
                       "e2e_concurrency": concurrency, "checkouts": checkouts, "drain_messages": drain},
        "loadavg_start": os.getloadavg(),
    }
    result["build"] = {"skipped": True} if os.environ.get("BENCH_SKIP_BUILD") else build()

    outputs = json.loads((REPO / ".local" / "stack-outputs.json").read_text())
    deployed = deployed_functions(outputs)
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566").rstrip("/").split("//", 1)[1]
    host, _, port = endpoint.partition(":")
    proxy = TimingProxy(host, int(port or 80))
    workdir = REPO / "target" / "bench"
    workdir.mkdir(parents=True, exist_ok=True)

    result["functions"] = []
    only = {f for f in os.environ.get("BENCH_FUNCTIONS", "").split(",") if f}
    for f in fns.discover(REPO):
        if only and f not in only:
            continue
        print(f"bench: {f} ...", file=sys.stderr, flush=True)
        idle_check = cpu_busy(1.0)
        # a fresh session per function: logout samples end the one they are given
        events = fns.load_events(REPO, f, {"token": e2e.new_session(outputs.get("ApiBaseUrlPlain", outputs["ApiBaseUrl"])),
                                           "login_token": checkout.demo_login(outputs.get("ApiBaseUrlPlain", outputs["ApiBaseUrl"]))})
        try:
            m = fns.measure(REPO, f, deployed.get(f), proxy, events, cold, warm, workdir, loadavg)
        except Exception as err:  # one function's failure must not lose the others' figures
            m = {"function": f, "skipped": f"failed: {err} (log: target/bench/{f}.log)"}
        m["sizes"] = fns.sizes(REPO, f)
        m["cpu_busy_before"] = idle_check
        result["functions"].append(m)
    print(f"bench: {FLOOR} (the floor) ...", file=sys.stderr, flush=True)
    result["floor"] = measure_floor(proxy, cold, warm, workdir, loadavg)
    proxy.close()

    # The thumbnailer's decode, time and memory per image size (bench/thumbnail.py): its sample
    # events name no upload, so the per-function figures above never decode anything.
    if os.environ.get("BENCH_SKIP_THUMBNAIL"):
        result["thumbnailer"] = {"skipped": "BENCH_SKIP_THUMBNAIL"}
    else:
        print("bench: the thumbnailer (bench/thumbnail) ...", file=sys.stderr, flush=True)
        try:
            result["thumbnailer"] = thumbnail.measure()
        except Exception as err:  # must not lose the figures measured so far
            result["thumbnailer"] = {"skipped": f"failed: {err}"}

    if os.environ.get("BENCH_SKIP_E2E"):
        result["e2e"] = [{"name": "end to end", "status": "skipped (BENCH_SKIP_E2E)"}]
    else:
        print("bench: end to end through LocalStack ...", file=sys.stderr, flush=True)
        result["e2e"] = e2e.run(outputs, boto3.client("logs"), requests, concurrency, boto3.client("lambda"))
        print("bench: checkout and queue drain ...", file=sys.stderr, flush=True)
        flows, profile = checkout.run(outputs, boto3.client("logs"), boto3.client("dynamodb"),
                                      boto3.client("stepfunctions"), checkouts, concurrency)
        result["e2e"] += flows + [checkout.queue_drain(outputs, boto3.client("sqs"), drain)]
        print("bench: event delivery and idle CPU ...", file=sys.stderr, flush=True)
        result["delivery"] = delivery.latency(outputs, boto3.client("sns"), boto3.client("dynamodb"),
                                              int(os.environ.get("BENCH_DELIVERY_EVENTS", "20")))
        result["delivery"]["idle_cpu"] = delivery.idle_cpu(REPO)
        result["checkout_profile"] = profile

    result["cost"] = cost.estimate(result["functions"], result.get("checkout_profile"))
    result["loadavg_end"] = os.getloadavg()
    result["busy"] = report.busy(result)
    result["elapsed_s"] = round(time.time() - started, 1)

    (HERE / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    md = report.markdown(result)
    (HERE / "results.md").write_text(md)
    update_readme(md)
    print(md)
    return 0


def measure_floor(proxy: TimingProxy, cold: int, warm: int, workdir: Path, loadavg) -> dict:
    """bench/baseline (an empty function) under the same harness, with catalog-api's events
    (API Gateway-sized payloads): the Runtime API round trip no handler can go below."""
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{FLOOR}"
    deployed = {"FunctionName": FLOOR, "FunctionArn": arn, "MemorySize": 128}
    events = fns.load_events(REPO, "catalog-api", {})
    try:
        m = fns.measure(REPO, FLOOR, deployed, proxy, events, cold, warm, workdir, loadavg)
    except Exception as err:
        m = {"function": FLOOR, "skipped": f"failed: {err} (log: target/bench/{FLOOR}.log)"}
    m["sizes"] = fns.sizes(REPO, FLOOR)
    return m


README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def update_readme(md: str) -> None:
    """Puts the table just printed between bench/README.md's bench markers (if it has them)."""
    readme = REPO / "bench" / "README.md"
    text = readme.read_text()
    # The markers on lines of their own (the README's prose quotes them).
    start, end = text.find(f"\n{README_START}\n"), text.find(f"\n{README_END}\n")
    start, end = (start + 1 if start >= 0 else -1), (end + 1 if end >= 0 else -1)
    if start < 0 or end < start:
        print("bench: bench/README.md has no bench markers; results are in bench/results.md", file=sys.stderr)
        return
    readme.write_text(text[: start + len(README_START)] + "\n" + md + "\n" + text[end:])


if __name__ == "__main__":
    sys.exit(main())
