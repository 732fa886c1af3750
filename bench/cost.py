"""Cost per 1 million requests on AWS, from the measured durations, memory and DynamoDB units.

Prices are list prices, us-east-1, assumed (not fetched at run time) as of PRICES_DATE. Change
them here; everything else is derived from the measurements.
"""

from __future__ import annotations

import math

PRICES_DATE = "2025-11 (us-east-1 list prices; not fetched at run time)"
PRICES = {
    "lambda_arm64_gb_s": 0.0000133334,  # first 7.5 B GB-s/month
    "lambda_request": 0.20 / 1e6,
    "apigw_rest_request": 3.50 / 1e6,  # first 333 M/month
    "ddb_on_demand_rru": 0.125 / 1e6,  # on-demand, since the 2024-11-01 price cut
    "ddb_on_demand_wru": 0.625 / 1e6,
    "cw_logs_ingest_gb": 0.50,
    "sfn_standard_transition": 0.025 / 1000,
    "sns_publish": 0.50 / 1e6,
    "sqs_standard_request": 0.40 / 1e6,
    "sqs_fifo_request": 0.50 / 1e6,
}
PRICES_TEXT = ("Lambda arm64 $0.0000133334 per GB-s + $0.20 per 1 M requests; API Gateway REST $3.50 per 1 M; "
               "DynamoDB on-demand $0.125 per 1 M RRU, $0.625 per 1 M WRU; CloudWatch Logs $0.50 per GB ingested; "
               "Step Functions Standard $0.025 per 1,000 state transitions; SNS $0.50 per 1 M publishes "
               "(deliveries to SQS free); SQS $0.40 per 1 M requests (FIFO $0.50)")
MEMORY_MB = 128
MILLION = 1_000_000

# The routes a request of each sample event stands for (API functions: through API Gateway).
API_FUNCTIONS = {"catalog-api", "cart-api", "auth-api", "checkout-api", "orders-api"}


def _lambda_cost(billed_ms: float, memory_mb: int) -> float:
    return billed_ms / 1000 * memory_mb / 1024 * PRICES["lambda_arm64_gb_s"] + PRICES["lambda_request"]


def per_event(function: str, event: str, stats: dict, memory_mb: int = MEMORY_MB) -> dict:
    """Cost of one million requests like ``event``, from its warm measurements."""
    p50 = stats["duration_ms"]["p50"]
    billed_ms = max(1, math.ceil(p50))  # 1 ms granularity, rounded up
    lam = _lambda_cost(billed_ms, memory_mb) * MILLION
    api = PRICES["apigw_rest_request"] * MILLION if function in API_FUNCTIONS else 0.0
    rru, wru = stats["read_units_per_invocation"], stats["write_units_per_invocation"]
    ddb = (rru * PRICES["ddb_on_demand_rru"] + wru * PRICES["ddb_on_demand_wru"]) * MILLION
    log_bytes = stats.get("log_bytes_per_invocation") or 0
    logs = log_bytes * MILLION / 1e9 * PRICES["cw_logs_ingest_gb"]
    return {
        "function": function,
        "event": event,
        "billed_ms": billed_ms,
        "memory_mb": memory_mb,
        "rru": rru,
        "wru": wru,
        "lambda_usd": lam,
        "apigw_usd": api,
        "dynamodb_usd": ddb,
        "logs_usd": logs,
        "total_usd": lam + api + ddb + logs,
    }


# A shopping journey before the checkout (priced per route from the warm measurements).
JOURNEY = [
    ("cart-api", "create-session", 1),
    ("catalog-api", "list-products", 1),
    ("catalog-api", "get-product", 2),
    ("cart-api", "put-item", 3),
    ("cart-api", "get-cart", 1),
]


def estimate(functions: list[dict], profile: dict | None = None) -> dict:
    rows = []
    by_key = {}
    for f in functions:
        warm = f.get("warm") or {}
        for event, stats in (warm.get("per_event") or {}).items():
            if not stats.get("n"):
                continue
            stats = dict(stats, log_bytes_per_invocation=warm.get("log_bytes_per_invocation"))
            row = per_event(f["function"], event, stats, f.get("memory_mb") or MEMORY_MB)
            rows.append(row)
            by_key[(f["function"], event)] = row
    journey_parts, journey_total, missing = [], 0.0, []
    for function, event, times in JOURNEY:
        row = by_key.get((function, event))
        if row is None:
            missing.append(f"{function}/{event}")
            continue
        journey_parts.append({"function": function, "event": event, "times": times, "usd": row["total_usd"] * times})
        journey_total += row["total_usd"] * times
    init = []
    for f in functions:
        cold = f.get("cold") or {}
        med = (cold.get("init_ms") or {}).get("median")
        if med is not None:
            billed = max(1, math.ceil(med))
            init.append({"function": f["function"], "init_billed_ms": billed,
                         "usd_per_million_cold_starts": billed / 1000 * MEMORY_MB / 1024 * PRICES["lambda_arm64_gb_s"] * MILLION})
    return {
        "prices": PRICES,
        "prices_date": PRICES_DATE,
        "assumptions": [
            "arm64, 128 MB; billed duration = measured warm p50 (x86_64, this machine, against LocalStack's "
            "DynamoDB Local) rounded up to 1 ms",
            "DynamoDB units = ConsumedCapacity reported by the emulator per call (ReturnConsumedCapacity=TOTAL "
            "added by the bench proxy), on-demand pricing",
            "API Gateway REST per request; the stage cache (billed hourly) and data transfer are not included",
            "CloudWatch Logs = ingestion of the function's own log lines; Lambda's START/END/REPORT lines not counted",
            "INIT is billed on cold starts (all functions, since 2025-08-01): listed separately per million cold starts",
        ],
        "per_request": rows,
        "journey": {
            "label": "cart journey per 1 M: " +
                     ", ".join(f"{t}x {fn}/{ev}" for fn, ev, t in JOURNEY),
            "parts": journey_parts,
            "missing": missing,
            "total_usd": journey_total if not missing else None,
        },
        "checkout": checkout_estimate(functions, profile),
        "prices_text": PRICES_TEXT,
        "init": init,
    }


# Messages per unattended checkout besides the workflow's own tasks: OrderPlaced fans out to
# audit-log, analytics, fraud-detector, notifier and fulfilment; fulfilment publishes
# OrderShipped (audit-log, notifier); the ledger gets one PaymentCaptured.
CONSUMER_DELIVERIES = {"audit-log": 2, "analytics": 1, "fraud-detector": 1, "notifier": 2, "fulfilment": 1,
                       "ledger": 1}
SNS_PUBLISHES = 2  # OrderPlaced (workflow), OrderShipped (fulfilment)
# Workflow tasks priced in DynamoDB units (items < 1 KB): consistent GetItem = 1 RRU,
# eventually consistent = 0.5, every write = 1 WRU.
DDB_TASK_UNITS = {"getItem": (1.0, 0.0), "updateItem": (0.0, 1.0), "putItem": (0.0, 1.0), "deleteItem": (0.0, 1.0)}


def _warm(functions: list[dict], name: str) -> tuple[float | None, float, float]:
    """(billed ms at p50, RRU, WRU) of the cheapest measured sample event of ``name`` —
    consumers are measured on sample batches, so this is per invocation."""
    for f in functions:
        if f["function"] != name:
            continue
        per = [s for s in ((f.get("warm") or {}).get("per_event") or {}).values() if s.get("n")]
        ok = [s for s in per if "200" in s.get("status", {}) or "ok" in s.get("status", {})] or per
        if not ok:
            return None, 0.0, 0.0
        best = min(ok, key=lambda s: s["duration_ms"]["p50"] or 0)
        return (max(1, math.ceil(best["duration_ms"]["p50"])), best["read_units_per_invocation"],
                best["write_units_per_invocation"])
    return None, 0.0, 0.0


def checkout_estimate(functions: list[dict], profile: dict | None) -> dict | str:
    """Cost of 1 M unattended checkouts (tok_ok, no approval) on AWS: the API call, the
    workflow's transitions and tasks (from a measured execution's history), its Lambda tasks,
    the events and their consumers."""
    if not profile:
        return "not measured: no checkout execution history (is the checkout deployed?)"
    parts: dict[str, float] = {}
    missing = []

    def lam(name: str, times: float) -> None:
        billed, rru, wru = _warm(functions, name)
        if billed is None:
            missing.append(name)
            return
        parts[f"Lambda {name}"] = parts.get(f"Lambda {name}", 0.0) + times * _lambda_cost(billed, MEMORY_MB) * MILLION
        parts["DynamoDB (functions)"] = parts.get("DynamoDB (functions)", 0.0) + times * (
            rru * PRICES["ddb_on_demand_rru"] + wru * PRICES["ddb_on_demand_wru"]) * MILLION

    parts["API Gateway"] = PRICES["apigw_rest_request"] * MILLION
    lam("checkout-api", 1)
    parts["Step Functions"] = profile["state_transitions"] * PRICES["sfn_standard_transition"] * MILLION
    rru = wru = 0.0
    sqs_fifo = sqs_std = 0
    for key, n in profile["tasks"].items():
        op = key.rsplit(":", 1)[-1].split(".")[0]
        if key.startswith("dynamodb"):
            r, w = DDB_TASK_UNITS.get(op, (0.0, 1.0))
            rru, wru = rru + r * n, wru + w * n
        elif key.startswith("sqs"):
            sqs_fifo += n  # the unattended path only sends to the ledger (FIFO)
    parts["DynamoDB (workflow tasks)"] = (rru * PRICES["ddb_on_demand_rru"] + wru * PRICES["ddb_on_demand_wru"]) * MILLION
    for name, times in (("pricing", 1), ("payment", 1)):
        lam(name, times)
    for name, times in CONSUMER_DELIVERIES.items():
        lam(name, times)
        if name == "ledger":
            sqs_fifo += 2 * times  # receive + delete
        else:
            sqs_std += 2 * times
    parts["SNS"] = SNS_PUBLISHES * PRICES["sns_publish"] * MILLION
    parts["SQS"] = (sqs_std * PRICES["sqs_standard_request"] + sqs_fifo * PRICES["sqs_fifo_request"]) * MILLION
    return {
        "per_million_usd": sum(parts.values()),
        "parts": {k: round(v, 2) for k, v in sorted(parts.items(), key=lambda kv: -kv[1])},
        "state_transitions": profile["state_transitions"],
        "workflow_tasks": profile["tasks"],
        "missing": missing,
        "assumptions": "one unattended checkout (tok_ok, below the approval threshold, one cart line); every "
                       "consumer invoked once per message (sparse traffic: batches of 1) at its measured warm p50 "
                       "and DynamoDB units; SQS receive + delete per message; GET /orders polling not included",
    }
