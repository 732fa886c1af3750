"""The coupling experiment (``make coupling``): a tightly coupled login beside the event-driven one.

Map of this script:

1. ``build`` - ``cargo lambda build --release --bin tight-login`` with the local stack's
   ``fast`` profile (the environment ``infra/scripts/deploy-local.sh`` sets for
   ``LAMBDA_BUILD_PROFILE=fast``, which ``make coupling`` deploys the shop with), so both logins
   are built alike and it reuses the shop's compiled dependencies.
2. ``deploy`` - ``bench/coupling/template.yaml`` as its own stack (``shop-coupling``) in the same
   LocalStack, with SAM as the shop is deployed; the shop's table names, topic and fraud
   detector come from ``.local/stack-outputs.json``.
3. ``users`` - CONCURRENCY bench accounts through the shop's ``POST /auth/register``; each load
   worker logs in as its own account with the right password, so neither brute-force guard (per
   account, per source address: failures only) is ever involved.
4. For each fraud mode (``healthy``, ``slow``, ``down``) ``set_fraud_faults`` sets
   ``LAMBDA_KIT_FAULTS`` on the shop's fraud detector (``crates/lambda-kit/src/faults.rs``), then
   ``fraud_calls`` times direct invocations of it (what one fraud call costs in that mode),
   and ``load_both`` runs the same load against both logins, in alternating chunks: the
   shop's ``POST /auth/login`` (*loose*: publishes ``LoginSucceeded`` and answers) and the
   bench's (*tight*: invokes the fraud detector and waits). ``slow`` is calibrated: the
   per-AWS-call latency is chosen so one fraud call takes about ``SLOW_TARGET_MS``, from the
   measured call with a first guess. ``QueueWatch`` samples the fraud detector's queue and DLQ
   every second meanwhile: the loose variant's fraud work waits there.
5. ``finally`` the fraud detector's environment is restored, whatever happened; then ``drain``
   follows the queue until the deferred work is done (a DLQ that grew is redriven first).
6. ``bench/coupling/results.json``, ``results.md``, ``coupling.png`` (``bench/coupling_plot.py``
   run with PLOT_PYTHON, the matplotlib venv of ``bench/install-plot.sh``), and the results
   section of ``bench/coupling/README.md``.

Knobs: COUPLING_REQUESTS (per login and mode, default 80), COUPLING_CONCURRENCY (default 4),
COUPLING_SKIP_BUILD=1, COUPLING_SKIP_DEPLOY=1.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from functions import cpu_model, summary  # noqa: E402  (nearest-rank percentiles; the machine line)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "coupling"
OUTPUTS = REPO / ".local" / "stack-outputs.json"
STACK = os.environ.get("COUPLING_STACK", "shop-coupling")
BUCKET = os.environ.get("ARTIFACT_BUCKET", "shop-sam-artifacts")
REQUESTS = int(os.environ.get("COUPLING_REQUESTS", "80"))
CONCURRENCY = int(os.environ.get("COUPLING_CONCURRENCY", "4"))
CHUNKS = 4
FRAUD_TIMEOUT_MS = 5000
SLOW_TARGET_MS = 2000
FRAUD_SAMPLES = 6
PASSWORD = "coupling-bench-password"
FAULTS = "LAMBDA_KIT_FAULTS"
DOWN_SPEC = "*=1:unavailable"
DRAIN_LIMIT_S = 180
# The fast profile of infra/scripts/deploy-local.sh (release minus fat LTO).
FAST_PROFILE = {"CARGO_PROFILE_RELEASE_LTO": "false", "CARGO_PROFILE_RELEASE_CODEGEN_UNITS": "16",
                "CARGO_PROFILE_RELEASE_OPT_LEVEL": "2"}

now = time.perf_counter


def log(message: str) -> None:
    print(f"[coupling {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- 1-2. build and deploy ---------------------------------------------------------------


def build() -> None:
    started = now()
    subprocess.run(["cargo", "lambda", "build", "--release", "--bin", "tight-login"], cwd=REPO,
                   env={**os.environ, **FAST_PROFILE}, check=True)
    bootstrap = REPO / "target" / "lambda" / "tight-login" / "bootstrap"
    if not bootstrap.is_file():
        sys.exit(f"{bootstrap} was not built (bench/coupling/template.yaml expects it there)")
    log(f"tight-login built in {now() - started:.0f} s")


def deploy(shop: dict) -> dict:
    cfn = boto3.client("cloudformation")
    try:
        status = cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
    except ClientError:
        status = None
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"):
        log(f"stack {STACK} is {status}: deleting it first")
        cfn.delete_stack(StackName=STACK)
        cfn.get_waiter("stack_delete_complete").wait(StackName=STACK)
    overrides = {
        "ProductsTable": shop["ProductsTableName"],
        "SessionsTable": shop["SessionsTableName"],
        "UsersTable": shop["UsersTableName"],
        "EventsTopicArn": shop["EventsTopicArn"],
        "FraudFunctionName": shop["FraudDetectorFunctionName"],
        "FraudTimeoutMs": str(FRAUD_TIMEOUT_MS),
    }
    subprocess.run(["sam", "deploy", "--template-file", str(OUT / "template.yaml"), "--stack-name", STACK,
                    "--s3-bucket", BUCKET, "--region", os.environ.get("AWS_REGION", "us-east-1"),
                    "--capabilities", "CAPABILITY_IAM", "--no-confirm-changeset",
                    "--no-fail-on-empty-changeset", "--no-progressbar",
                    "--parameter-overrides", *[f"{k}={v}" for k, v in overrides.items()]],
                   cwd=REPO, check=True)
    desc = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}
    # As deploy-local.sh: LocalStack has dropped a SAM API's stage on an update.
    apigw = boto3.client("apigateway")
    if "v1" not in [s["stageName"] for s in apigw.get_stages(restApiId=outputs["ApiId"])["item"]]:
        apigw.create_deployment(restApiId=outputs["ApiId"], stageName="v1")
    return outputs


def base_url(api_id: str) -> str:
    # execute-api hostnames do not resolve offline; LocalStack serves every API on this path.
    return f"{os.environ['AWS_ENDPOINT_URL'].rstrip('/')}/_aws/execute-api/{api_id}/v1"


# --- 3. HTTP ------------------------------------------------------------------------------


def post(url: str, body: dict, timeout: float = 40.0, correlation: str | None = None) -> tuple[int, float, bytes]:
    """(status, milliseconds, body) of one POST; status 0 when the connection failed."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if correlation:
        headers["X-Correlation-Id"] = correlation
    t0 = now()
    try:
        conn.request("POST", parts.path, body=json.dumps(body), headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, (now() - t0) * 1000, data
    except (OSError, http.client.HTTPException) as err:
        return 0, (now() - t0) * 1000, str(err).encode()
    finally:
        conn.close()


def bench_users(shop_url: str) -> list[str]:
    users = [f"coupling-{i}@bench.local" for i in range(CONCURRENCY)]
    for email in users:
        status, _, data = post(f"{shop_url}/auth/register", {"email": email, "password": PASSWORD})
        if status != 202:
            sys.exit(f"registering {email}: {status} {data[:200]!r}")
    return users


def run_logins(url: str, users: list[str], requests: int, tag: str) -> tuple[list[tuple[int, float]], float]:
    """``requests`` logins at ``len(users)`` concurrent clients, each as its own account:
    (status, ms) of each, and the wall time."""
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker(email: str) -> None:
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            status, ms, _ = post(f"{url}/auth/login", {"email": email, "password": PASSWORD},
                                 correlation=f"coupling-{tag}-{n}")
            with lock:
                results.append((status, ms))

    started = now()
    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        list(pool.map(worker, users))
    return results, now() - started


def stats(results: list[tuple[int, float]], wall: float) -> dict:
    statuses: dict[str, int] = {}
    for status, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    ok = [ms for status, ms in results if 200 <= status < 300]
    return {
        "requests": len(results),
        "success_rate": len(ok) / len(results) if results else None,
        "statuses": statuses,
        "latency_ms": summary([ms for _, ms in results]),
        "success_latency_ms": summary(ok),
        "busy_s": wall,
        "throughput_rps": len(results) / wall if wall else None,
    }


def load_both(urls: dict[str, str], users: list[str], requests: int, mode: str) -> dict[str, dict]:
    """The same load on both logins, in CHUNKS alternating chunks (A B B A ...): what one
    login leaves behind (the loose one's queued fraud work, new execution environments) falls
    on both alike instead of on whichever ran second."""
    raw = {name: [] for name in urls}
    busy = {name: 0.0 for name in urls}
    names = list(urls)
    for chunk in range(CHUNKS):
        order = names if chunk % 2 == 0 else names[::-1]
        share = requests // CHUNKS + (1 if chunk < requests % CHUNKS else 0)
        for name in order:
            results, wall = run_logins(urls[name], users, share, f"{mode}-{name}-{chunk}")
            raw[name] += results
            busy[name] += wall
    return {name: stats(raw[name], busy[name]) for name in names}


class QueueWatch:
    """Samples the fraud queue and DLQ every second in the background (the deepest point of
    a mode, not only where it ended)."""

    def __init__(self, sqs, shop: dict):
        self.sqs, self.shop = sqs, shop
        self.samples: list[dict] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.started = time.time()
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                self.samples.append(queue_state(self.sqs, self.shop))
            except (ClientError, OSError):
                pass

    def finish(self) -> dict:
        self.stop.set()
        self.thread.join()
        end = queue_state(self.sqs, self.shop)
        waiting = [s["queue_visible"] + s["queue_in_flight"] for s in self.samples + [end]]
        return {"max_waiting": max(waiting), "max_dlq": max(s["dlq"] for s in self.samples + [end]),
                "end": end, "samples": len(self.samples)}


# --- 4. the fraud detector ----------------------------------------------------------------


def lambda_client():
    # A direct fraud call in the down mode may take seconds; never let botocore retry it.
    return boto3.client("lambda", config=Config(read_timeout=60, retries={"max_attempts": 1}))


def set_environment(lam, function: str, variables: dict) -> None:
    lam.update_function_configuration(FunctionName=function, Environment={"Variables": variables})
    deadline = time.time() + 60
    while time.time() < deadline:
        config = lam.get_function_configuration(FunctionName=function)
        if config.get("LastUpdateStatus") in (None, "Successful"):
            return
        if config.get("LastUpdateStatus") == "Failed":
            raise RuntimeError(f"updating {function}: {config.get('LastUpdateStatusReason')}")
        time.sleep(0.5)
    raise RuntimeError(f"{function} was not updated within 60 s")


def set_fraud_faults(lam, function: str, base: dict, spec: str | None) -> None:
    variables = dict(base)
    if spec:
        variables[FAULTS] = spec
    set_environment(lam, function, variables)


def login_batch() -> bytes:
    """A LoginSucceeded as the fraud detector receives it from its queue (one SQS record)."""
    event_id = str(uuid.uuid4())
    envelope = {
        "eventId": event_id, "eventType": "LoginSucceeded", "eventVersion": 1,
        "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "correlationId": f"coupling-probe-{event_id[:8]}", "source": "bench-coupling",
        "detail": {"userId": "coupling-probe", "email": "coupling-probe@bench.local", "role": "customer",
                   "sourceIp": "127.0.0.1", "userAgent": "bench/coupling.py", "mergedCartLines": 0},
    }
    return json.dumps({"Records": [{
        "messageId": event_id, "receiptHandle": f"probe-{event_id}", "body": json.dumps(envelope),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:local:000000000000:coupling-probe",
        "awsRegion": os.environ.get("AWS_REGION", "us-east-1"),
    }]}).encode()


def fraud_calls(lam, function: str, samples: int = FRAUD_SAMPLES) -> dict:
    """Times direct RequestResponse invocations (after one unmeasured warm-up: the update
    restarted the function), and what they answered."""
    outcomes: dict[str, int] = {}
    durations = []
    for i in range(samples + 1):
        t0 = now()
        try:
            resp = lam.invoke(FunctionName=function, InvocationType="RequestResponse", Payload=login_batch())
            payload = json.loads(resp["Payload"].read() or b"null")
            if resp.get("FunctionError"):
                outcome = f"function error {resp['FunctionError']}"
            elif isinstance(payload, dict) and payload.get("batchItemFailures"):
                outcome = "record failed"
            else:
                outcome = "processed"
        except (ClientError, OSError) as err:
            outcome = f"invoke failed: {type(err).__name__}"
        ms = (now() - t0) * 1000
        if i == 0:
            continue
        durations.append(ms)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {"duration_ms": summary(durations), "outcomes": outcomes}


def calibrate_slow(lam, function: str, base: dict, healthy_ms: float) -> tuple[str, dict, list]:
    """The ``*=latency:<n>ms`` spec under which one fraud call takes about SLOW_TARGET_MS.

    The latency applies to every AWS call the detector makes, so a call's duration is roughly
    healthy + k * latency for its k sequential calls: a first guess measures k, the second
    spec is the estimate (at most two more rounds)."""
    trials = []
    latency = 500
    for _ in range(3):
        spec = f"*=latency:{latency}ms"
        set_fraud_faults(lam, function, base, spec)
        measured = fraud_calls(lam, function)
        median = measured["duration_ms"]["median"]
        trials.append({"spec": spec, "median_ms": median})
        log(f"slow calibration: {spec} -> fraud call median {median:.0f} ms")
        if abs(median - SLOW_TARGET_MS) <= 0.1 * SLOW_TARGET_MS:
            return spec, measured, trials
        calls = max(1.0, (median - healthy_ms) / latency)
        latency = max(10, round((SLOW_TARGET_MS - healthy_ms) / calls / 10) * 10)
    spec = f"*=latency:{latency}ms"
    set_fraud_faults(lam, function, base, spec)
    measured = fraud_calls(lam, function)
    trials.append({"spec": spec, "median_ms": measured["duration_ms"]["median"]})
    return spec, measured, trials


def queue_state(sqs, shop: dict) -> dict:
    def attrs(url: str) -> dict:
        a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return {"visible": int(a["ApproximateNumberOfMessages"]),
                "in_flight": int(a["ApproximateNumberOfMessagesNotVisible"])}
    queue, dlq = attrs(shop["FraudDetectorQueueUrl"]), attrs(shop["FraudDetectorDlqUrl"])
    return {"t": time.time(), "queue_visible": queue["visible"], "queue_in_flight": queue["in_flight"],
            "dlq": dlq["visible"] + dlq["in_flight"]}


def drain(sqs, shop: dict, dlq_before: int) -> dict:
    """After the restore: follows the fraud queue until the loose logins' deferred events are
    processed. Events that reached the DLQ during the outage are moved back first (the
    runbook's redrive), so they are processed too."""
    started = time.time()
    redriven = 0
    state = queue_state(sqs, shop)
    if state["dlq"] > dlq_before:
        redriven = state["dlq"]
        sqs.start_message_move_task(SourceArn=shop["FraudDetectorDlqArn"],
                                    DestinationArn=shop["FraudDetectorQueueArn"])
        log(f"redriving {redriven} messages from the fraud DLQ")
    samples = []
    while time.time() - started < DRAIN_LIMIT_S:
        state = queue_state(sqs, shop)
        state["t"] = round(state["t"] - started, 1)
        samples.append(state)
        if state["queue_visible"] + state["queue_in_flight"] + state["dlq"] <= dlq_before and state["t"] > 1:
            break
        time.sleep(2)
    last = samples[-1]
    return {"redriven_from_dlq": redriven, "samples": samples,
            "drained": last["queue_visible"] + last["queue_in_flight"] + last["dlq"] <= dlq_before,
            "seconds": last["t"]}


# --- 6. outputs ---------------------------------------------------------------------------


def fmt(value, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def markdown(results: dict) -> str:
    c = results["conditions"]
    lines = [
        "| fraud service | fraud call (median) | login | success | p50 ms | p99 ms | statuses |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for mode in results["modes"]:
        call = mode["fraud_call"]["duration_ms"].get("median")
        for name, label in (("loose", "event-driven (shop)"), ("tight", "tightly coupled")):
            v = mode["variants"][name]
            statuses = ", ".join(f"{k}: {n}" for k, n in sorted(v["statuses"].items()))
            lines.append(f"| {mode['mode']} | {fmt(call)} ms | {label} | {v['success_rate'] * 100:.0f} % | "
                         f"{fmt(v['latency_ms'].get('p50'))} | {fmt(v['latency_ms'].get('p99'))} | {statuses} |")
    lines += ["", "The event-driven login's fraud work: the shop's fraud-detector queue, sampled every second "
              "while the mode ran (waiting = queued + in flight):", "",
              "| fraud service | most waiting | most in the DLQ | at the end of the mode: queued / in flight / DLQ |",
              "|---|---:|---:|---|"]
    for mode in results["modes"]:
        q = mode["fraud_queue"]
        e = q["end"]
        lines.append(f"| {mode['mode']} | {q['max_waiting']} | {q['max_dlq']} | "
                     f"{e['queue_visible']} / {e['queue_in_flight']} / {e['dlq']} |")
    d = results["after_restore"]
    lines += ["", f"After the fraud detector was restored: {d['redriven_from_dlq']} messages redriven from its DLQ; "
              f"queue and DLQ back to their level before the run: {'yes' if d['drained'] else 'NO'}, "
              f"after {d['seconds']:.0f} s.", "",
              f"Conditions: {c['requests']} logins per login and mode at {c['concurrency']} concurrent clients "
              f"(each its own account, right password), in {c['chunks']} alternating chunks (loose, tight, tight, loose); fraud call timeout of the tight login {c['fraud_timeout_ms']} ms; "
              f"slow = `{c['slow_spec']}` on the fraud detector (every AWS call it makes), down = `{c['down_spec']}`; "
              f"{c['machine']}; LocalStack {c['localstack']}"
              + "".join(f", {k}={v}" for k, v in sorted(c.get("localstack_settings", {}).items()))
              + f"; run {c['started']}, {c['duration_s']:.0f} s."]
    return "\n".join(lines) + "\n"


def write_outputs(results: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (OUT / "results.md").write_text("# The coupling experiment: recorded run\n\n" + table)
    readme = OUT / "README.md"
    if readme.exists():
        text = readme.read_text()
        new = re.sub(r"(<!-- results -->\n).*?(<!-- /results -->)", lambda m: m.group(1) + table + m.group(2),
                     text, flags=re.S)
        readme.write_text(new)
    plot_python = os.environ.get("PLOT_PYTHON")
    if plot_python:
        subprocess.run([plot_python, str(HERE / "coupling_plot.py"), str(OUT / "results.json"),
                        str(OUT / "coupling.png")], check=True)
    else:
        log("PLOT_PYTHON not set: no plot (make coupling sets it)")


def machine() -> str:
    model = cpu_model()
    return f"{os.cpu_count()} CPUs ({platform.machine() if model == '?' else model}), {platform.system()}"


def localstack_settings() -> dict:
    """The event source mapping's poll settings LocalStack runs with (they set how soon the
    fraud queue is read): from its process environment, else LocalStack's defaults."""
    found = {}
    try:
        pid = (REPO / ".local" / "localstack.pid").read_text().strip()
        for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            name, _, value = item.decode(errors="replace").partition("=")
            if name.startswith("LAMBDA_EVENT_SOURCE_MAPPING_"):
                found[name] = value
    except OSError:
        pass
    return found


def localstack_version() -> str:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", 4566, timeout=5)
        conn.request("GET", "/_localstack/health")
        return json.loads(conn.getresponse().read()).get("version", "?")
    except (OSError, ValueError):
        return "?"


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    started_wall, started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), now()
    if not OUTPUTS.exists():
        sys.exit(f"{OUTPUTS} is missing: deploy the shop first (make up)")
    shop = json.loads(OUTPUTS.read_text())
    if os.environ.get("COUPLING_SKIP_BUILD") != "1":
        build()
    bench = deploy(shop) if os.environ.get("COUPLING_SKIP_DEPLOY") != "1" else {
        o["OutputKey"]: o["OutputValue"] for o in
        boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]}
    loose_url, tight_url = base_url(shop["ApiId"]), base_url(bench["ApiId"])
    log(f"loose: {loose_url}/auth/login; tight: {tight_url}/auth/login")
    users = bench_users(loose_url)

    lam, sqs = lambda_client(), boto3.client("sqs")
    fraud = shop["FraudDetectorFunctionName"]
    original = lam.get_function_configuration(FunctionName=fraud).get("Environment", {}).get("Variables", {})
    # The shop's template sets no faults: one found here was left by an interrupted run.
    base = {k: v for k, v in original.items() if k != FAULTS}
    restore = base
    dlq_before = queue_state(sqs, shop)["dlq"]
    modes, slow_spec, calibration = [], None, []
    try:
        for mode in ("healthy", "slow", "down"):
            if mode == "healthy":
                spec = None
                set_fraud_faults(lam, fraud, base, spec)
                call = fraud_calls(lam, fraud)
                healthy_ms = call["duration_ms"]["median"]
            elif mode == "slow":
                spec, call, calibration = calibrate_slow(lam, fraud, base, healthy_ms)
                slow_spec = spec
            else:
                spec = DOWN_SPEC
                set_fraud_faults(lam, fraud, base, spec)
                call = fraud_calls(lam, fraud)
            log(f"{mode}: fraud call median {call['duration_ms']['median']:.0f} ms, {call['outcomes']}")
            # One unmeasured round per login: new execution environments are not what is measured.
            run_logins(loose_url, users, len(users), f"{mode}-warm-loose")
            run_logins(tight_url, users, len(users), f"{mode}-warm-tight")
            watch = QueueWatch(sqs, shop)
            variants = load_both({"loose": loose_url, "tight": tight_url}, users, REQUESTS, mode)
            fraud_queue = watch.finish()
            for name, v in variants.items():
                log(f"{mode} {name}: success {v['success_rate'] * 100:.0f} %, p50 {fmt(v['latency_ms'].get('p50'))} ms, "
                    f"p99 {fmt(v['latency_ms'].get('p99'))} ms, {v['statuses']}")
            log(f"{mode}: fraud queue {fraud_queue}")
            modes.append({"mode": mode, "fault": spec, "fraud_call": call, "variants": variants,
                          "fraud_queue": fraud_queue})
    finally:
        set_environment(lam, fraud, restore)
        log(f"{fraud}: environment restored")
    after = drain(sqs, shop, dlq_before)
    log(f"after the restore: {after['redriven_from_dlq']} redriven, drained={after['drained']} in {after['seconds']} s")

    results = {
        "conditions": {
            "requests": REQUESTS, "concurrency": CONCURRENCY, "chunks": CHUNKS, "fraud_timeout_ms": FRAUD_TIMEOUT_MS,
            "slow_target_ms": SLOW_TARGET_MS, "slow_spec": slow_spec, "slow_calibration": calibration,
            "down_spec": DOWN_SPEC, "fault_found_at_start": original.get(FAULTS),
            "machine": machine(), "localstack": localstack_version(),
            "localstack_settings": localstack_settings(), "started": started_wall,
            "duration_s": now() - started, "loose": "shop POST /auth/login (auth-api)",
            "tight": f"{STACK} POST /auth/login (bench/coupling tight-login)",
            "fraud_function": fraud,
        },
        "modes": modes,
        "after_restore": after,
    }
    write_outputs(results)
    print(markdown(results))


if __name__ == "__main__":
    main()
