"""Per-function measurements: cold starts, warm invocations, memory, sizes.

Every function under ``functions/*/`` is measured with its real release ``bootstrap``
(``target/lambda/<fn>/bootstrap``), the environment variables of the deployed function
(read from LocalStack), and the sample events in ``events/<fn>/*.json``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import statistics
import zipfile
from pathlib import Path

from harness import FunctionProcess, TimingProxy

TOKEN_PLACEHOLDER = re.compile(r"REPLACE-with-the-token-from-POST-sessions-\d+")
LOGIN_TOKEN_PLACEHOLDER = re.compile(r"REPLACE-with-a-token-from-POST-auth-login-\d+")


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("?" where there is none): the machine line of
    every bench report."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "p50": pct(values, 50),
        "p90": pct(values, 90),
        "p99": pct(values, 99),
    }


def logical_id(function: str) -> str:
    """``cart-api`` -> ``CartApiFunction`` (the template's naming rule)."""
    return "".join(part.capitalize() for part in function.split("-")) + "Function"


def discover(repo: Path) -> list[str]:
    return sorted(p.parent.name for p in (repo / "functions").glob("*/Cargo.toml"))


def load_events(repo: Path, function: str, substitutions: dict[str, str]) -> list[tuple[str, bytes]]:
    events = []
    for path in sorted((repo / "events" / function).glob("*.json")):
        text = path.read_text()
        if "token" in substitutions:
            text = TOKEN_PLACEHOLDER.sub(substitutions["token"], text)
        if "login_token" in substitutions:
            text = LOGIN_TOKEN_PLACEHOLDER.sub(substitutions["login_token"], text)
        events.append((path.stem, _authorizer_session(text).encode()))
    return events


def _authorizer_session(text: str) -> str:
    """An event with an authorizer context gets the ``sessionId`` the authorizer would put
    there for its bearer token: the token's SHA-256 (hex)."""
    event = json.loads(text)
    context = (event.get("requestContext") or {}).get("authorizer") if isinstance(event, dict) else None
    header = ((event.get("headers") or {}).get("Authorization") or "") if context else ""
    if not context or not header.startswith("Bearer "):
        return text
    context["sessionId"] = hashlib.sha256(header[len("Bearer "):].encode()).hexdigest()
    return json.dumps(event)


def function_env(deployed: dict, proxy: TimingProxy, name: str) -> dict[str, str]:
    """The environment Lambda gives a provided.al2023 process, with the deployed variables."""
    region = os.environ.get("AWS_REGION", "us-east-1")
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "test",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(deployed.get("MemorySize", 128)),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]bench",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
        "_HANDLER": "bootstrap",
    }
    env.update(deployed.get("Environment", {}).get("Variables", {}))
    # the level the functions run with on AWS (samconfig default), not the local stack's debug
    env["RUST_LOG"] = os.environ.get("BENCH_LOG_LEVEL", "info")
    # LocalStack, through the timing proxy (the deployed value points at LocalStack directly)
    env["AWS_ENDPOINT_URL"] = proxy.url
    return env


def _status(result: bytes) -> str:
    try:
        doc = json.loads(result)
    except ValueError:
        return "?"
    if isinstance(doc, dict):
        if "statusCode" in doc:
            return str(doc["statusCode"])
        if "errorType" in doc:
            return doc["errorType"]
        if "batchItemFailures" in doc:
            return f"{len(doc['batchItemFailures'])} failed"
    return "ok"


def sequential_round_trips(calls) -> int:
    """The longest chain of calls made one after another (each started after the previous one
    answered): the round trips an invocation waited for in turn. Calls sent together count once."""
    chain, last_end = 0, None
    for c in sorted(calls, key=lambda c: c.end):
        if last_end is None or c.start >= last_end:
            chain, last_end = chain + 1, c.end
    return chain


def _aws(proxy: TimingProxy, inv) -> tuple[float, list]:
    proxy.settle()
    calls = proxy.calls_between(inv.handed_out, inv.returned)
    return proxy.busy_ms(calls, inv.handed_out, inv.returned), calls


def target_dir(repo: Path) -> Path:
    """Where the release build lives: ``make bench`` builds into ``target/aws``
    (``CARGO_TARGET_DIR``, set by the Makefile and ``infra/scripts/deploy-local.sh``)."""
    configured = Path(os.environ.get("CARGO_TARGET_DIR", repo / "target"))
    return configured if configured.is_absolute() else repo / configured


def bootstrap_path(repo: Path, function: str) -> Path:
    """The release bootstrap just built and deployed (``infra/scripts/build-functions.py``)."""
    return target_dir(repo) / "lambda" / function / "bootstrap"


def measure(repo: Path, function: str, deployed: dict | None, proxy: TimingProxy, events, cold: int, warm: int,
            workdir: Path, loadavg) -> dict:
    bootstrap = bootstrap_path(repo, function)
    out: dict = {"function": function, "events": [name for name, _ in events]}
    if not bootstrap.exists():
        out["skipped"] = f"no release bootstrap at {bootstrap.relative_to(repo)}"
        return out
    if deployed is None:
        out["skipped"] = f"not deployed ({logical_id(function)} not in the stack; run make up)"
        return out
    name = deployed["FunctionName"]
    arn = deployed["FunctionArn"]
    env = function_env(deployed, proxy, name)
    log = workdir / f"{function}.log"
    log.unlink(missing_ok=True)
    out["deployed_name"] = name
    out["memory_mb"] = deployed.get("MemorySize", 128)

    # --- cold starts: a fresh process each --------------------------------------------------
    inits, firsts, first_aws, first_over, rss_first, init_calls, load = [], [], [], [], [], 0, []
    for i in range(cold):
        load.append(loadavg())
        p = FunctionProcess(str(bootstrap), env, arn, str(log))
        try:
            inits.append(p.wait_ready())
            init_calls += len(proxy.calls_between(p.spawned, p.api.first_next))
            if events:
                inv = p.invoke(events[i % len(events)][1])
                aws_ms, _ = _aws(proxy, inv)
                firsts.append(inv.ms)
                first_aws.append(aws_ms)
                first_over.append(inv.ms - aws_ms)
            rss = p.peak_rss_kb()
            if rss:
                rss_first.append(rss / 1024)
        finally:
            p.stop()
    out["cold"] = {
        "runs": cold,
        "init_ms": summary(inits),
        "first_invoke_ms": summary(firsts),
        "first_invoke_aws_ms": summary(first_aws),
        "first_invoke_beyond_aws_ms": summary(first_over),
        "aws_calls_during_init": init_calls,
        "peak_rss_mb_after_first": summary(rss_first),
    }

    # --- warm: one process, every event N times (round robin) --------------------------------
    if not events:
        out["warm"] = {"note": f"no sample events in events/{function}/"}
        return out
    p = FunctionProcess(str(bootstrap), env, arn, str(log))
    per_event: dict[str, dict] = {name: {"ms": [], "aws_ms": [], "over_ms": [], "status": {}, "calls": {}, "seq": [],
                                         "rru": 0.0, "wru": 0.0, "n": 0} for name, _ in events}
    try:
        p.wait_ready()
        for _, payload in events:  # one untimed round: connections and lazy state warmed
            p.invoke(payload)
        log_start = log.stat().st_size
        for _ in range(warm):
            load.append(loadavg())
            for ev_name, payload in events:
                inv = p.invoke(payload)
                aws_ms, calls = _aws(proxy, inv)
                e = per_event[ev_name]
                e["n"] += 1
                e["ms"].append(inv.ms)
                e["aws_ms"].append(aws_ms)
                e["over_ms"].append(inv.ms - aws_ms)
                st = _status(inv.result)
                e["status"][st] = e["status"].get(st, 0) + 1
                e["seq"].append(sequential_round_trips(calls))
                for c in calls:
                    e["calls"][c.operation] = e["calls"].get(c.operation, 0) + 1
                    e["rru"] += c.read_units
                    e["wru"] += c.write_units
        log_bytes = log.stat().st_size - log_start
        rss = p.peak_rss_kb()
    finally:
        p.stop()
    all_ms = [v for e in per_event.values() for v in e["ms"]]
    all_over = [v for e in per_event.values() for v in e["over_ms"]]
    total = sum(e["n"] for e in per_event.values())
    out["warm"] = {
        "rounds": warm,
        "invocations": total,
        "duration_ms": summary(all_ms),
        "beyond_aws_ms": summary(all_over),
        "peak_rss_mb": rss / 1024 if rss else None,
        "log_bytes_per_invocation": log_bytes / total if total else None,
        "per_event": {
            name: {
                "n": e["n"],
                "status": e["status"],
                "duration_ms": summary(e["ms"]),
                "aws_ms": summary(e["aws_ms"]),
                "beyond_aws_ms": summary(e["over_ms"]),
                "aws_calls_per_invocation": {op: n / e["n"] for op, n in sorted(e["calls"].items())},
                "sequential_round_trips": summary(e["seq"]),
                "read_units_per_invocation": e["rru"] / e["n"],
                "write_units_per_invocation": e["wru"] / e["n"],
            }
            for name, e in per_event.items()
        },
    }
    out["loadavg_1m"] = summary(load)
    return out


def _zipped_size(binary: Path) -> int:
    """Size of a deployment zip holding ``binary`` as ``bootstrap`` (deflate, as sam deploy)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, binary.read_bytes())
    return len(buf.getvalue())


def sizes(repo: Path, function: str) -> dict:
    out = {}
    x86 = bootstrap_path(repo, function)
    out["x86_64"] = {
        "binary_bytes": x86.stat().st_size if x86.exists() else None,
        "zip_bytes": _zipped_size(x86) if x86.exists() else None,
    }
    arm_zip = repo / "target" / "lambda-arm64" / function / "bootstrap.zip"
    arm_bin = None
    if arm_zip.exists():
        with zipfile.ZipFile(arm_zip) as z:
            arm_bin = z.getinfo("bootstrap").file_size
    out["arm64"] = {"binary_bytes": arm_bin, "zip_bytes": arm_zip.stat().st_size if arm_zip.exists() else None}
    return out
