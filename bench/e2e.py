"""End to end through LocalStack: API Gateway -> our executor -> the function -> DynamoDB.

Load comes from ``hey`` (count-bounded with ``-n``, time-bounded by a hard timeout around each
run; loopback only). Time inside our functions comes from the executor's ``REPORT`` lines in
CloudWatch Logs (``Duration``: the Runtime API saw the event handed in until the result came
back), so "emulator" = API latency minus function duration.

Checkout and queue drain are in ``checkout.py`` (they need signed-in shoppers and unique
idempotency keys, which ``hey`` cannot vary per request).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from functions import summary

HARD_TIMEOUT_S = 90
REPORT = re.compile(r"REPORT RequestId: (\S+)\s+Duration: ([\d.]+) ms")
INIT = re.compile(r"Init Duration: ([\d.]+) ms")


def new_session(base_url: str) -> str:
    req = urllib.request.Request(f"{base_url}/sessions", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)["token"]


def _hey(url: str, n: int, c: int, method: str = "GET", body: str | None = None, headers: dict | None = None):
    argv = ["hey", "-n", str(n), "-c", str(c), "-m", method, "-t", "30", "-o", "csv"]
    for k, v in (headers or {}).items():
        argv += ["-H", f"{k}: {v}"]
    if body is not None:
        argv += ["-d", body, "-T", "application/json"]
    argv.append(url)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=HARD_TIMEOUT_S)
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    return [(float(r["response-time"]) * 1000, r["status-code"]) for r in rows if r.get("response-time")]


def _reports(logs, group: str, since_ms: int) -> tuple[list[float], int]:
    durations, inits, token = [], 0, None
    kwargs = {"logGroupName": group, "startTime": since_ms}
    while True:
        if token:
            kwargs["nextToken"] = token
        try:
            page = logs.filter_log_events(**kwargs)
        except logs.exceptions.ResourceNotFoundException:
            return [], 0
        for event in page.get("events", []):
            m = REPORT.search(event["message"])
            if m:
                durations.append(float(m.group(2)))
                if INIT.search(event["message"]):
                    inits += 1
        token = page.get("nextToken")
        if not token or not page.get("events"):
            return durations, inits


def _result(name, samples, elapsed_s, function_name, logs, since_ms, concurrency, note):
    time.sleep(1.0)  # let the log shipper catch up
    durations, inits = _reports(logs, f"/aws/lambda/{function_name}", since_ms)
    latencies = [ms for ms, _ in samples]
    statuses: dict[str, int] = {}
    for _, st in samples:
        statuses[st] = statuses.get(st, 0) + 1
    lat, fn = summary(latencies), summary(durations)
    mean_lat = sum(latencies) / len(latencies) if latencies else None
    mean_fn = sum(durations) / len(durations) if durations else None
    return {
        "name": name,
        "status": "measured",
        "requests": len(samples),
        "concurrency": concurrency,
        "throughput_rps": len(samples) / elapsed_s if elapsed_s else None,
        "http_status": statuses,
        "latency_ms": lat,
        "function": function_name,
        "function_duration_ms": fn,
        "function_cold_starts": inits,
        "mean_latency_ms": mean_lat,
        "mean_function_ms": mean_fn,
        "share_in_function": (mean_fn / mean_lat) if mean_lat and mean_fn else None,
        "note": note,
    }


def run(outputs: dict, logs, requests: int, concurrency: int, lam=None) -> list[dict]:
    base = outputs.get("ApiBaseUrlPlain", outputs["ApiBaseUrl"])
    results = []
    levels = {}
    if lam is not None:
        for key in ("CatalogApiFunctionName", "CartApiFunctionName"):
            env = lam.get_function_configuration(FunctionName=outputs[key]).get("Environment", {})
            levels[outputs[key]] = env.get("Variables", {}).get("RUST_LOG", "?")
    if shutil.which("hey") is None:
        return [{"name": "end to end", "status": "skipped: hey not installed (bench/install-hey.sh)"}]

    # warm-up: one environment per concurrent client, so the measured runs see warm functions
    _hey(f"{base}/products?limit=20", concurrency * 4, concurrency)

    # GET /products
    since = int(time.time() * 1000)
    t0 = time.perf_counter()
    samples = _hey(f"{base}/products?limit=20", requests, concurrency)
    results.append(_result("GET /products?limit=20", samples, time.perf_counter() - t0,
                           outputs["CatalogApiFunctionName"], logs, since, concurrency,
                           "one page of 20 products (DynamoDB Scan)"))

    # cart writes: one shopper per concurrent client, each with its own session and cart
    tokens = [new_session(base) for _ in range(concurrency)]
    skus = ["TSHIRT-BLK-M", "MUG-BLK-350"]

    def shopper(i: int):
        return _hey(f"{base}/cart/items/{skus[i % len(skus)]}", max(1, requests // concurrency), 1, "PUT",
                    '{"quantity": 1}', {"Authorization": f"Bearer {tokens[i]}"})

    for i in range(concurrency):  # warm-up
        _hey(f"{base}/cart/items/{skus[0]}", 2, 1, "PUT", '{"quantity": 1}', {"Authorization": f"Bearer {tokens[i]}"})
    since = int(time.time() * 1000)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        samples = [s for part in pool.map(shopper, range(concurrency)) for s in part]
    results.append(_result("PUT /cart/items/{sku}", samples, time.perf_counter() - t0,
                           outputs["CartApiFunctionName"], logs, since, concurrency,
                           f"{concurrency} shoppers, own session each (GetItem session + product, conditional PutItem cart)"))

    for r in results:
        if r.get("function") in levels:
            r["function_log_level"] = levels[r["function"]]
    return results
