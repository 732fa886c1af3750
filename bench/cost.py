"""Cost per 1 million requests on AWS, from the measured durations, memory and DynamoDB units.

Prices are list prices, us-east-1, assumed (not fetched at run time) as of PRICES_DATE. Change
them here; everything else is derived from the measurements.
"""

from __future__ import annotations

import math
import sys

PRICES_DATE = "2025-11 (us-east-1 list prices; not fetched at run time)"
PRICES = {
    "lambda_arm64_gb_s": 0.0000133334,  # first 7.5 B GB-s/month
    "lambda_request": 0.20 / 1e6,
    "apigw_rest_request": 3.50 / 1e6,  # first 333 M/month
    "ddb_on_demand_rru": 0.125 / 1e6,  # on-demand, since the 2024-11-01 price cut
    "ddb_on_demand_wru": 0.625 / 1e6,
    "cw_logs_ingest_gb": 0.50,
    "sfn_standard_transition": 0.025 / 1000,
    # Express: $1.00 per 1 M requests (runs started) + duration at $0.00001667 per GB-s (the first
    # 1,000 GB-hours a month; then $0.00000833, then $0.00000456): https://aws.amazon.com/step-functions/pricing/
    "sfn_express_request": 1.00 / 1e6,
    "sfn_express_gb_s": 0.00001667,
    "sns_publish": 0.50 / 1e6,
    "sqs_standard_request": 0.40 / 1e6,
    "sqs_fifo_request": 0.50 / 1e6,
}
PRICES_TEXT = ("Lambda arm64 $0.0000133334 per GB-s + $0.20 per 1 M requests; API Gateway REST $3.50 per 1 M; "
               "DynamoDB on-demand $0.125 per 1 M RRU, $0.625 per 1 M WRU; CloudWatch Logs $0.50 per GB ingested; "
               "Step Functions Standard $0.025 per 1,000 state transitions, Express $1.00 per 1 M runs + "
               "$0.00001667 per GB-s (64 MB chunks, 100 ms steps); SNS $0.50 per 1 M publishes "
               "(deliveries to SQS free); SQS $0.40 per 1 M requests (FIFO $0.50)")
MEMORY_MB = 128
MILLION = 1_000_000
# An Express run is billed for the memory it uses (its definition and the data it carries) in
# 64 MB chunks: this checkout's definition and payloads (a few KB of order, cart and results) are
# far below 64 MB, so every run is billed at the first chunk.
EXPRESS_MEMORY_MB = 64
EXPRESS_STEP_MS = 100  # duration billed in 100 ms steps, rounded up

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
    checkout = checkout_estimate(functions, profile)
    if split := split_table(checkout):
        print("bench: checkout cost per path\n" + "\n".join(split), file=sys.stderr, flush=True)
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
        "checkout": checkout,
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


def _warm(functions: list[dict], name: str, event: str | None = None) -> tuple[float | None, float, float]:
    """(billed ms at p50, RRU, WRU) of the sample event ``event`` of ``name``, else its cheapest
    measured sample event — consumers are measured on sample batches, so this is per invocation."""
    for f in functions:
        if f["function"] != name:
            continue
        events = (f.get("warm") or {}).get("per_event") or {}
        per = [s for s in events.values() if s.get("n")]
        ok = [s for s in per if "200" in s.get("status", {}) or "ok" in s.get("status", {})] or per
        if event and (events.get(event) or {}).get("n"):
            ok = [events[event]]
        if not ok:
            return None, 0.0, 0.0
        best = min(ok, key=lambda s: s["duration_ms"]["p50"] or 0)
        return (max(1, math.ceil(best["duration_ms"]["p50"])), best["read_units_per_invocation"],
                best["write_units_per_invocation"])
    return None, 0.0, 0.0


def run_cost(run: dict) -> dict:
    """One run on AWS: Express = request + GB-s (64 MB, duration rounded up to 100 ms);
    Standard = state transitions."""
    if run["type"] == "EXPRESS":
        duration = run.get("duration_ms") or 0.0
        billed_ms = max(EXPRESS_STEP_MS, math.ceil(duration / EXPRESS_STEP_MS) * EXPRESS_STEP_MS)
        gb_s = billed_ms / 1000 * EXPRESS_MEMORY_MB / 1024
        usd = PRICES["sfn_express_request"] + gb_s * PRICES["sfn_express_gb_s"]
        return {"run": run["run"], "type": "EXPRESS", "duration_ms": run.get("duration_ms"), "billed_ms": billed_ms,
                "gb_s": gb_s, "usd_per_million": usd * MILLION}
    usd = run["state_transitions"] * PRICES["sfn_standard_transition"]
    return {"run": run["run"], "type": "STANDARD", "state_transitions": run["state_transitions"],
            "usd_per_million": usd * MILLION}


# What the approval path adds besides its runs: the admin's POST /orders/{id}/approve (API
# Gateway, orders-api) and the approvals consumer (ApprovalRequested from the approvals queue:
# receive + delete; the send is a task of the approval run).
APPROVAL_EXTRAS = [("orders-api", "approve-order"), ("approvals", "approval-requested")]


def _path_estimate(functions: list[dict], path: dict, approval: bool) -> dict:
    """Cost of 1 M checkouts along one path: the API call, its runs (priced per run), their
    tasks, its Lambda tasks, the events and their consumers (the same on both paths), and for
    the approval path the decision's API call and the approvals consumer."""
    parts: dict[str, float] = {}
    missing = []

    def lam(name: str, times: float, event: str | None = None) -> None:
        billed, rru, wru = _warm(functions, name, event)
        if billed is None:
            missing.append(name)
            return
        parts[f"Lambda {name}"] = parts.get(f"Lambda {name}", 0.0) + times * _lambda_cost(billed, MEMORY_MB) * MILLION
        parts["DynamoDB (functions)"] = parts.get("DynamoDB (functions)", 0.0) + times * (
            rru * PRICES["ddb_on_demand_rru"] + wru * PRICES["ddb_on_demand_wru"]) * MILLION

    runs = [run_cost(r) for r in path["runs"]]
    parts["API Gateway"] = PRICES["apigw_rest_request"] * MILLION * (2 if approval else 1)
    lam("checkout-api", 1)
    parts["Step Functions"] = sum(r["usd_per_million"] for r in runs)
    rru = wru = 0.0
    sqs_fifo = sqs_std = 0
    tasks: dict[str, int] = {}
    for run in path["runs"]:
        for key, n in run["tasks"].items():
            tasks[key] = tasks.get(key, 0) + n
            op = key.rsplit(":", 1)[-1].split(".")[0]
            if key.startswith("dynamodb"):
                r, w = DDB_TASK_UNITS.get(op, (0.0, 1.0))
                rru, wru = rru + r * n, wru + w * n
        sends = run.get("sqs_sends") or {}
        sqs_fifo += sends.get("fifo", 0)
        sqs_std += sends.get("standard", 0)
    parts["DynamoDB (workflow tasks)"] = (rru * PRICES["ddb_on_demand_rru"] + wru * PRICES["ddb_on_demand_wru"]) * MILLION
    for name, times in (("pricing", 1), ("payment", 1)):
        lam(name, times)
    for name, times in CONSUMER_DELIVERIES.items():
        lam(name, times)
        if name == "ledger":
            sqs_fifo += 2 * times  # receive + delete
        else:
            sqs_std += 2 * times
    if approval:
        for name, event in APPROVAL_EXTRAS:
            lam(name, 1, event)
        sqs_std += 2  # the approval request: receive + delete
    parts["SNS"] = SNS_PUBLISHES * PRICES["sns_publish"] * MILLION
    parts["SQS"] = (sqs_std * PRICES["sqs_standard_request"] + sqs_fifo * PRICES["sqs_fifo_request"]) * MILLION
    return {
        "order": path.get("order"),
        "measured": path.get("measured", False),
        "note": path.get("note", ""),
        "runs": runs,
        "step_functions_usd": parts["Step Functions"],
        "per_million_usd": sum(parts.values()),
        "parts": {k: round(v, 2) for k, v in sorted(parts.items(), key=lambda kv: -kv[1])},
        "state_transitions": sum(r.get("state_transitions", 0) for r in path["runs"]),
        "workflow_tasks": tasks,
        "missing": missing,
    }


def checkout_estimate(functions: list[dict], profile: dict | None) -> dict | str:
    """Cost of 1 M checkouts on AWS along each path, from measured runs: unattended (tok_ok, no
    approval: one Express run) and approval (Express ``<orderId>`` + Standard
    ``approval-<orderId>`` + Express ``resume-<orderId>``). The unattended path's figures are
    also kept at the top level (``per_million_usd``, ``parts``…), as before the split."""
    if not profile:
        return "not measured: no checkout run measured (is the checkout deployed?)"
    if "unattended" not in profile:  # a results.json of before the split: one Standard execution
        profile = {"unattended": {"order": profile.get("execution"), "measured": True, "runs": [
            {"run": profile.get("execution"), "type": "STANDARD", "state_transitions": profile["state_transitions"],
             "tasks": profile["tasks"], "sqs_sends": {"fifo": sum(n for k, n in profile["tasks"].items()
                                                                   if k.startswith("sqs"))}}]}}
    unattended = profile["unattended"]
    if not unattended.get("runs"):
        return f"not measured: {unattended.get('status', 'no checkout run')}"
    paths = {"unattended": _path_estimate(functions, unattended, approval=False)}
    approval = profile.get("approval") or {}
    paths["approval"] = (_path_estimate(functions, approval, approval=True) if approval.get("runs")
                         else approval.get("status", "not measured"))
    main = paths["unattended"]
    return {
        "per_million_usd": main["per_million_usd"],
        "parts": main["parts"],
        "state_transitions": main["state_transitions"],
        "workflow_tasks": main["workflow_tasks"],
        "missing": main["missing"],
        "paths": paths,
        "assumptions": "one checkout per path (tok_ok, one cart line; the approval path: one line above the "
                       "approval threshold, approved by the demo admin); Express runs billed at 64 MB (their "
                       "definition and payloads are far below it) for their duration measured on LocalStack from "
                       "the run's ExecutionStarted to its end event, rounded up to 100 ms; Standard runs per state "
                       "transition (StateEntered events of the history); every consumer invoked once per message "
                       "(sparse traffic: batches of 1) at its measured warm p50 and DynamoDB units; SQS receive + "
                       "delete per message; GET /orders polling not included",
    }


def split_table(checkout: dict | str) -> list[str]:
    """The checkout's cost per path as a Markdown table (per 1 M checkouts)."""
    if isinstance(checkout, str) or "paths" not in checkout:
        return []
    lines = ["| checkout path (per 1 M) | runs | Step Functions $ | total $ |", "|---|---|---|---|"]
    for name, path in checkout["paths"].items():
        if isinstance(path, str):
            lines.append(f"| {name} | {path} | – | – |")
            continue
        runs = []
        for r in path["runs"]:
            if r["type"] == "EXPRESS":
                took = f"{r['duration_ms']:.0f} ms" if r.get("duration_ms") is not None else "? ms"
                runs.append(f"{r['run']} Express {took} → {r['billed_ms']} ms billed ${r['usd_per_million']:.2f}")
            else:
                runs.append(f"{r['run']} Standard {r['state_transitions']} transitions ${r['usd_per_million']:.2f}")
        label = name + ("" if path["measured"] else " (estimated)")
        lines.append(f"| {label} | {'; '.join(runs)} | {path['step_functions_usd']:.2f} | "
                     f"{path['per_million_usd']:.2f} |")
    return lines


if __name__ == "__main__":  # re-price the checkout from bench/results.json and print the split
    import json
    from pathlib import Path

    results = json.loads((Path(__file__).resolve().parent / "results.json").read_text())
    print("\n".join(split_table(checkout_estimate(results["functions"], results.get("checkout_profile")))))
