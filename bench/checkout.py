"""End-to-end checkout and queue-drain scenarios of ``make bench`` (through LocalStack).

- ``POST /checkout`` latency and the time from ``POST /checkout`` to ``CONFIRMED``: each
  concurrent shopper is a series of fresh signed-in accounts (a new one every 5 orders, below the
  fraud detector's order-velocity rule) with their own carts; every checkout needs its own
  ``Idempotency-Key`` and a refilled cart, which ``hey`` cannot vary per request, so shoppers are
  Python threads (one keep-alive-less ``urllib`` request at a time each).
- The checkout workflow's shape per order (state transitions, DynamoDB/SQS/SNS/Lambda tasks),
  read from the execution history of a measured order: the cost model prices it.
- Queue drain: how many messages per second one consumer (audit-log) drains from its queue
  through LocalStack's event source mapping (batch size from the template, one poller).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

from e2e import _reports
from functions import summary

TERMINAL = {"CONFIRMED", "FULFILLED", "FAILED", "REJECTED", "CANCELLED"}
BENCH_SKU = "BENCH-CHECKOUT-1"
PRICE_MINOR = 1500  # below any approval threshold: the unattended path
# At most this many orders per account: FraudOrderVelocity (5) is "more than 5 in the window".
ORDERS_PER_ACCOUNT = 5


def _call(base: str, method: str, path: str, token: str | None = None, body: dict | None = None,
          headers: dict | None = None) -> tuple[int, dict, float]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{base}{path}", method=method, data=data)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    ms = (time.perf_counter() - t0) * 1000
    try:
        return status, json.loads(raw or b"{}"), ms
    except ValueError:
        return status, {}, ms


def _new_user(base: str) -> str:
    email, password = f"bench-{uuid.uuid4().hex[:12]}@bench.local", "bench-password-1"
    _call(base, "POST", "/auth/register", body={"email": email, "password": password})
    status, body, _ = _call(base, "POST", "/auth/login", body={"email": email, "password": password})
    if status != 200:
        raise RuntimeError(f"bench login failed: {status} {body}")
    return body["token"]


def _sessions(base: str, accounts: int) -> list[str]:
    """``accounts`` fresh accounts, each one's token repeated ORDERS_PER_ACCOUNT times."""
    return [token for token in (_new_user(base) for _ in range(accounts)) for _ in range(ORDERS_PER_ACCOUNT)]


def demo_login(base: str) -> str:
    """A fresh session of the local demo user, for the sample events of signed-in routes."""
    status, body, _ = _call(base, "POST", "/auth/login", body={"email": "demo@shop.local", "password": "demo-password"})
    return body.get("token", "") if status == 200 else ""


def _ensure_product(ddb, table: str) -> None:
    # Plenty of stock so that no checkout of the run fails for stock.
    ddb.put_item(TableName=table, Item={
        "sku": {"S": BENCH_SKU}, "name": {"S": "Bench product"}, "description": {"S": "make bench fixture"},
        "price_minor": {"N": str(PRICE_MINOR)}, "currency": {"S": "EUR"}, "stock": {"N": "1000000"},
    })


def _one_checkout(base: str, token: str) -> dict:
    _call(base, "PUT", f"/cart/items/{BENCH_SKU}", token, {"quantity": 1})
    t0 = time.perf_counter()
    status, body, ms = _call(base, "POST", "/checkout", token, {"paymentToken": "tok_ok"},
                             {"Idempotency-Key": uuid.uuid4().hex})
    order_id, final = body.get("orderId"), None
    while order_id and time.perf_counter() - t0 < 60:
        _, order, _ = _call(base, "GET", f"/orders/{order_id}", token)
        if order.get("status") in TERMINAL:
            final = order["status"]
            break
        time.sleep(0.05)
    return {"status": str(status), "post_ms": ms, "order_id": order_id, "final": final,
            "to_final_ms": (time.perf_counter() - t0) * 1000 if final else None}


def _history_profile(sfn, execution_arn: str) -> dict:
    """Counts what one checkout execution did (the cost model's input)."""
    events, token = [], None
    while True:
        kwargs = {"executionArn": execution_arn, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            break
    transitions = sum(1 for e in events if e["type"].endswith("StateEntered"))
    tasks: dict[str, int] = {}
    for e in events:
        if e["type"] == "TaskScheduled":
            d = e["taskScheduledEventDetails"]
            key = f"{d['resourceType']}:{d['resource']}"
            tasks[key] = tasks.get(key, 0) + 1
        elif e["type"] == "LambdaFunctionScheduled":
            tasks["lambda:invoke"] = tasks.get("lambda:invoke", 0) + 1
    return {"execution": execution_arn.rsplit(":", 1)[-1], "state_transitions": transitions, "tasks": tasks}


def run(outputs: dict, logs, ddb, sfn, checkouts: int, concurrency: int) -> tuple[list[dict], dict | None]:
    base = outputs.get("ApiBaseUrlPlain", outputs["ApiBaseUrl"])
    if "CheckoutApiFunctionName" not in outputs:
        return [{"name": "POST /checkout", "status": "not deployed"}], None
    _ensure_product(ddb, outputs["ProductsTableName"])
    per_shopper = max(1, checkouts // concurrency)
    # The session each of a shopper's orders is placed with, switching to a fresh account every
    # ORDERS_PER_ACCOUNT orders (the warm-up order included): the fraud detector flags an account
    # with more orders in its window, and a flagged account's orders wait for manual approval.
    # Accounts are registered before the clock starts (Argon2 is not what this measures).
    accounts_per_shopper = -(-(per_shopper + 1) // ORDERS_PER_ACCOUNT)
    shoppers = [_sessions(base, accounts_per_shopper)[: per_shopper + 1] for _ in range(concurrency)]
    for sessions in shoppers:  # warm-up: one environment of every function per shopper
        _one_checkout(base, sessions[0])
    since = int(time.time() * 1000)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        runs = [r for part in pool.map(lambda sessions: [_one_checkout(base, t) for t in sessions[1:]], shoppers)
                for r in part]
    elapsed = time.perf_counter() - t0
    time.sleep(1.0)
    statuses: dict[str, int] = {}
    finals: dict[str, int] = {}
    for r in runs:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        finals[str(r["final"])] = finals.get(str(r["final"]), 0) + 1
    api_fn, _ = _reports(logs, f"/aws/lambda/{outputs['CheckoutApiFunctionName']}", since)
    inside = {}
    for key in ("PricingFunctionName", "PaymentFunctionName"):
        if key in outputs:
            inside[outputs[key]] = summary(_reports(logs, f"/aws/lambda/{outputs[key]}", since)[0])
    post = [r["post_ms"] for r in runs]
    confirmed = [r["to_final_ms"] for r in runs if r["final"] == "CONFIRMED" or r["final"] == "FULFILLED"]
    mean_post = sum(post) / len(post) if post else None
    mean_api = sum(api_fn) / len(api_fn) if api_fn else None
    workflow_fn_ms = sum((s.get("p50") or 0) for s in inside.values())
    results = [
        {
            "name": "POST /checkout", "status": "measured", "requests": len(runs), "concurrency": concurrency,
            "throughput_rps": len(runs) / elapsed if elapsed else None, "http_status": statuses,
            "latency_ms": summary(post), "function": outputs["CheckoutApiFunctionName"],
            "function_duration_ms": summary(api_fn), "function_cold_starts": 0,
            "mean_latency_ms": mean_post, "mean_function_ms": mean_api,
            "share_in_function": (mean_api / mean_post) if mean_post and mean_api else None,
            "note": "session check, conditional PutItem of the order, StartExecution; each shopper refills its "
                    "cart and waits for the order before the next checkout",
        },
        {
            "name": "POST /checkout -> CONFIRMED", "status": "measured-workflow", "requests": len(runs),
            "concurrency": concurrency, "final_status": finals, "latency_ms": summary(confirmed),
            "functions_in_workflow_p50_ms": {k: v.get("p50") for k, v in inside.items()},
            "share_in_functions": (workflow_fn_ms / summary(confirmed)["p50"])
            if confirmed and summary(confirmed).get("p50") else None,
            "note": "client-observed: POST, then GET /orders/{id} every 50 ms until a final status; the workflow "
                    "runs ~13 states (DynamoDB, SQS, SNS integrations) and 2 Lambda tasks (pricing, payment)",
        },
    ]
    profile = None
    order = next((r["order_id"] for r in runs if r["final"] in ("CONFIRMED", "FULFILLED")), None)
    if order and "CheckoutStateMachineArn" in outputs:
        arn = outputs["CheckoutStateMachineArn"].replace(":stateMachine:", ":execution:") + f":{order}"
        profile = _history_profile(sfn, arn)
    return results, profile


def queue_drain(outputs: dict, sqs, messages: int) -> dict:
    """Sends ``messages`` audit events straight to the audit-log queue and times how long the
    event source mapping + consumer need to empty it."""
    url = outputs.get("AuditLogQueueUrl")
    if not url:
        return {"name": "queue drain (messages/s, one consumer)", "status": "not deployed"}
    batch_size = 10

    def body(i: int) -> str:
        return json.dumps({
            "eventId": str(uuid.uuid4()), "eventType": "BenchEvent", "eventVersion": 1,
            "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "correlationId": f"bench-drain-{i}", "source": "bench", "detail": {"n": i},
        })

    t0 = time.perf_counter()
    for start in range(0, messages, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": body(i), "MessageAttributes": {
                "eventType": {"DataType": "String", "StringValue": "BenchEvent"}}}
            for i in range(start, min(start + 10, messages))])
    sent = time.perf_counter() - t0
    deadline = t0 + 300
    while time.perf_counter() < deadline:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        if int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"]) == 0:
            break
        time.sleep(0.1)
    elapsed = time.perf_counter() - t0
    drained = time.perf_counter() < deadline
    return {
        "name": "queue drain (messages/s, one consumer)",
        "status": "measured-drain" if drained else "timed out after 300 s",
        "messages": messages, "consumer": "audit-log", "batch_size": batch_size,
        "send_s": round(sent, 2), "drain_s": round(elapsed, 2),
        "messages_per_s": messages / elapsed if drained else None,
        "note": "SendMessageBatch of all messages, then poll the queue depth every 100 ms until visible + in flight = 0; "
                "LocalStack's SQS event source mapping (one poller) invokes audit-log with batches of up to 10, "
                "each record: idempotency claim + audit PutItem + idempotency done",
    }
