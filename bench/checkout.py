"""End-to-end checkout and queue-drain scenarios of ``make bench`` (through LocalStack).

- ``POST /checkout`` latency and the time from ``POST /checkout`` to ``CONFIRMED``: each
  concurrent shopper is a series of fresh signed-in accounts (a new one every 5 orders, below the
  fraud detector's order-velocity rule) with their own carts; every checkout needs its own
  ``Idempotency-Key`` and a refilled cart, which ``hey`` cannot vary per request, so shoppers are
  Python threads (one keep-alive-less ``urllib`` request at a time each).
- The checkout workflow's runs per order, both paths, measured: the unattended path is one
  Express run (``<orderId>``), read from the checkout machine's CloudWatch log group (Express
  runs have no history API; the machine logs every event, Level ALL): its duration
  (``ExecutionStarted`` → its end) and tasks; the approval path is that run, the Standard
  ``approval-<orderId>`` (state transitions from its history) and the Express
  ``resume-<orderId>``, measured on one order above the approval threshold that the demo admin
  approves (``POST /orders/{id}/approve``). The cost model prices both.
- Queue drain: how many messages per second one consumer (audit-log) drains from its queue
  through LocalStack's event source mapping (batch size from the template, one poller).
"""

from __future__ import annotations

import datetime
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from e2e import _reports
from functions import summary

TERMINAL = {"CONFIRMED", "FULFILLED", "FAILED", "REJECTED", "CANCELLED"}
BENCH_SKU = "BENCH-CHECKOUT-1"
PRICE_MINOR = 1500  # below any approval threshold: the unattended path
APPROVAL_SKU = "BENCH-APPROVAL-1"  # priced above the approval threshold: the approval path
ADMIN = ("admin@shop.local", "admin-password")  # the demo admin (make seed), as in the tests
RUN_ENDS = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}
RUN_WAIT_S = 60  # a run's last events reach its log group a little after it ends
APPROVAL_ASL = Path(__file__).resolve().parent.parent / "statemachines" / "approval.asl.json"
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


def _ensure_product(ddb, table: str, sku: str = BENCH_SKU, price_minor: int = PRICE_MINOR) -> None:
    # Plenty of stock so that no checkout of the run fails for stock.
    ddb.put_item(TableName=table, Item={
        "sku": {"S": sku}, "name": {"S": "Bench product"}, "description": {"S": "make bench fixture"},
        "price_minor": {"N": str(price_minor)}, "currency": {"S": "EUR"}, "stock": {"N": "1000000"},
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


def _event_ms(value, fallback: int) -> float:
    """An Express log event's ``event_timestamp`` in epoch ms: epoch ms (a string or a number) on
    AWS, ISO 8601 (``2026-01-02T03:04:05.678901+00:00``, microseconds) on LocalStack."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        if value.isdigit():
            return float(value)
        try:
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000
        except ValueError:
            pass
    return float(fallback)


def _run_name(execution_arn: str) -> str | None:
    """``arn:…:express:<machine>:<name>:<uuid>`` or ``arn:…:execution:<machine>:<name>`` → name."""
    parts = execution_arn.split(":")
    return parts[7] if len(parts) > 7 and parts[5] in ("express", "execution") else None


def _express_runs(logs, group: str, name: str, since_ms: int) -> dict[str, list[dict]]:
    """The Express runs named ``name`` logged to ``group`` since ``since_ms``: ARN → events in id
    order, each ``{"type", "at_ms", "details"}``. The quoted filter pattern narrows the read on
    AWS; LocalStack ignores it (returns the whole window), so the name is checked here."""
    runs: dict[str, dict[int, dict]] = {}
    kwargs = {"logGroupName": group, "startTime": int(since_ms), "filterPattern": f'":{name}:"'}
    while True:
        try:
            page = logs.filter_log_events(**kwargs)
        except logs.exceptions.ResourceNotFoundException:
            return {}
        for logged in page.get("events", []):
            try:
                event = json.loads(logged.get("message", ""))
                arn = event["execution_arn"]
                event_id = int(event["id"])
            except (ValueError, KeyError, TypeError):
                continue
            if _run_name(arn) != name:
                continue
            runs.setdefault(arn, {})[event_id] = {
                "type": event.get("type"), "at_ms": _event_ms(event.get("event_timestamp"), logged.get("timestamp", 0)),
                "details": event.get("details") or {},
            }
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            break
        kwargs["nextToken"] = token
    return {arn: [events[i] for i in sorted(events)] for arn, events in runs.items()}


def _wait_express(logs, group: str, name: str, since_ms: int) -> list[list[dict]] | None:
    """The runs named ``name`` once each has logged its end (``None`` after RUN_WAIT_S)."""
    deadline = time.time() + RUN_WAIT_S
    while True:
        runs = _express_runs(logs, group, name, since_ms)
        if runs and all(any(e["type"] in RUN_ENDS for e in events) for events in runs.values()):
            return sorted(runs.values(), key=lambda events: events[0]["at_ms"])
        if time.time() > deadline:
            return None
        time.sleep(0.5)


def _standard_run(sfn, execution_arn: str) -> list[dict] | None:
    """A Standard execution's history once it ended, as ``{"type", "at_ms", "details"}`` events;
    ``None`` if there is no such execution or it did not end within RUN_WAIT_S."""
    deadline = time.time() + RUN_WAIT_S
    while True:
        try:
            status = sfn.describe_execution(executionArn=execution_arn)["status"]
        except (sfn.exceptions.ExecutionDoesNotExist, sfn.exceptions.InvalidArn):
            return None
        if status != "RUNNING":
            break
        if time.time() > deadline:
            return None
        time.sleep(0.5)
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
    return [{"type": e["type"], "at_ms": e["timestamp"].timestamp() * 1000,
             "details": next((v for k, v in e.items() if k.endswith("EventDetails")), {})} for e in events]


def _run_profile(name: str, kind: str, events: list[dict]) -> dict:
    """What one run did (the cost model's input): its state transitions, its tasks (and which
    queues it sent to), its duration and how it ended."""
    tasks: dict[str, int] = {}
    sqs_sends = {"standard": 0, "fifo": 0}
    for e in events:
        d = e["details"]
        if e["type"] == "TaskScheduled":
            key = f"{d.get('resourceType')}:{d.get('resource')}"
            tasks[key] = tasks.get(key, 0) + 1
            if d.get("resourceType") == "sqs":
                params = d.get("parameters") or {}
                if isinstance(params, str):  # JSON text, in the history and in the logs
                    try:
                        params = json.loads(params)
                    except ValueError:
                        params = {}
                queue = params.get("QueueUrl", "") if isinstance(params, dict) else ""
                # Without the parameters: a task-token request goes to the approvals queue (standard),
                # any other send to the ledger (FIFO).
                fifo = queue.endswith(".fifo") if queue else "waitForTaskToken" not in key
                sqs_sends["fifo" if fifo else "standard"] += 1
        elif e["type"] == "LambdaFunctionScheduled":
            tasks["lambda:invoke"] = tasks.get("lambda:invoke", 0) + 1
    started = next((e["at_ms"] for e in events if e["type"] == "ExecutionStarted"), None)
    ended = next((e for e in events if e["type"] in RUN_ENDS), None)
    return {
        "run": name, "type": kind,
        "state_transitions": sum(1 for e in events if str(e["type"]).endswith("StateEntered")),
        "tasks": tasks, "sqs_sends": sqs_sends,
        "duration_ms": round(ended["at_ms"] - started, 3) if ended and started is not None else None,
        "end": ended["type"] if ended else None,
    }


def _express_profiles(outputs: dict, logs, name: str, since_ms: int) -> list[dict] | None:
    group = outputs.get("CheckoutLogGroupName") or (
        "/aws/vendedlogs/states/" + outputs["CheckoutStateMachineArn"].rsplit(":", 1)[-1])
    runs = _wait_express(logs, group, name, since_ms)
    return [_run_profile(name, "EXPRESS", events) for events in runs] if runs else None


def _path_profile(outputs: dict, logs, sfn, order_id: str, since_ms: int, approval: bool) -> dict:
    """The runs of one measured order: ``<orderId>`` (Express; on a stack still running the
    Standard checkout, its history), then for an approval ``approval-<orderId>`` (Standard) and
    ``resume-<orderId>`` (Express)."""
    since_ms -= 10_000
    runs = None
    if "CheckoutLogGroupName" not in outputs:  # perhaps a stack still on the Standard checkout
        arn = outputs["CheckoutStateMachineArn"].replace(":stateMachine:", ":execution:") + f":{order_id}"
        events = _standard_run(sfn, arn)
        runs = [_run_profile(order_id, "STANDARD", events)] if events else None
    if runs is None:
        runs = _express_profiles(outputs, logs, order_id, since_ms)
    if runs is None:
        return {"order": order_id, "status": f"not measured: no end of the run {order_id} logged within {RUN_WAIT_S} s"}
    if approval:
        machine = outputs.get("ApprovalStateMachineArn")
        events = _standard_run(sfn, machine.replace(":stateMachine:", ":execution:") + f":approval-{order_id}") \
            if machine else None
        resume = _express_profiles(outputs, logs, f"resume-{order_id}", since_ms)
        if events is None or resume is None:
            return {"order": order_id, "status": "not measured: the approval run or the resume run was not found "
                                                 f"(ApprovalStateMachineArn {'set' if machine else 'missing'})"}
        runs += [_run_profile(f"approval-{order_id}", "STANDARD", events)] + resume
    return {"order": order_id, "measured": True, "runs": runs}


def _approved_order(base: str, outputs: dict, ddb) -> tuple[str | None, float, str]:
    """One order above the approval threshold, approved by the demo admin: (order id, epoch ms
    before it was placed, what happened)."""
    threshold = int(outputs.get("ApprovalThreshold", "100000"))
    _ensure_product(ddb, outputs["ProductsTableName"], APPROVAL_SKU, threshold + 100)
    status, body, _ = _call(base, "POST", "/auth/login", body={"email": ADMIN[0], "password": ADMIN[1]})
    if status != 200 or not body.get("token"):
        return None, 0, f"the demo admin cannot sign in ({status}): make seed?"
    admin, token = body["token"], _new_user(base)
    _call(base, "PUT", f"/cart/items/{APPROVAL_SKU}", token, {"quantity": 1})
    since = time.time() * 1000
    status, body, _ = _call(base, "POST", "/checkout", token, {"paymentToken": "tok_ok"},
                            {"Idempotency-Key": uuid.uuid4().hex})
    order_id = body.get("orderId")
    if not order_id:
        return None, since, f"POST /checkout answered {status} {body}"

    def wait(wanted: set[str]) -> str | None:
        deadline = time.time() + 60
        while time.time() < deadline:
            _, order, _ = _call(base, "GET", f"/orders/{order_id}", token)
            if order.get("status") in wanted | TERMINAL:
                return order["status"]
            time.sleep(0.1)
        return None

    waiting = wait({"AWAITING_APPROVAL"})
    if waiting != "AWAITING_APPROVAL":
        return None, since, f"order {order_id} ended {waiting} instead of waiting for approval"
    status, body, _ = _call(base, "POST", f"/orders/{order_id}/approve", admin)
    if status != 202:
        return None, since, f"POST /orders/{order_id}/approve answered {status} {body}"
    final = wait({"CONFIRMED"})
    if final not in ("CONFIRMED", "FULFILLED"):
        return None, since, f"approved order {order_id} ended {final}"
    return order_id, since, "approved"


def _approval_path_count() -> tuple[int, list[str]] | None:
    """The states the approval machine enters on the approved path (``statemachines/approval.asl.json``:
    from StartAt along each state's ``Next``, a Choice's ``Default``, to the end)."""
    try:
        text = APPROVAL_ASL.read_text()
    except OSError:
        return None
    # Numeric placeholders (${ApprovalTimeoutSeconds}) stand unquoted: JSON once substituted.
    states = json.loads(re.sub(r"\$\{[A-Za-z]+\}", "1", text))
    path, state = [], states["StartAt"]
    while state and state not in path:
        path.append(state)
        spec = states["States"][state]
        state = spec.get("Next") or spec.get("Default")
    return len(path), path


def _approval_estimate(unattended: dict, why: str) -> dict:
    """The approval path when it could not be measured: the unattended Express run twice (the
    run up to the hand-over and the resumption: together they do what it does, each billed as a
    run of its own, so an upper bound) and the Standard run's transitions counted in its ASL."""
    counted = _approval_path_count()
    express = [r for r in unattended.get("runs", []) if r["type"] == "EXPRESS"][:1]
    if counted is None or not express:
        return {"status": f"not measured ({why}) and not estimated (no approval.asl.json or no measured Express run)"}
    n, path = counted
    order = unattended.get("order")
    runs = [dict(express[0]), {"run": f"approval-{order}", "type": "STANDARD", "state_transitions": n, "tasks": {
        "sqs:sendMessage.waitForTaskToken": 1, "states:startExecution": 1}, "sqs_sends": {"standard": 1, "fifo": 0},
        "duration_ms": None, "end": None}, dict(express[0], run=f"resume-{order}")]
    return {"order": order, "measured": False, "runs": runs,
            "note": f"estimated, not measured ({why}): the unattended Express run counted twice (an upper bound), "
                    f"the approval run's {n} transitions counted along {' → '.join(path)} in "
                    f"statemachines/approval.asl.json"}


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
        unattended = _path_profile(outputs, logs, sfn, order, since, approval=False)
        try:  # one order above the threshold, approved: anything going wrong leaves the estimate
            approved, approval_since, what = _approved_order(base, outputs, ddb)
            approval = (_path_profile(outputs, logs, sfn, approved, approval_since, approval=True) if approved
                        else {"status": f"not measured: {what}"})
        except Exception as err:  # noqa: BLE001 — the unattended figures must not be lost
            approval = {"status": f"not measured: {type(err).__name__}: {err}"}
        if not approval.get("measured") and unattended.get("measured"):
            approval = _approval_estimate(unattended, approval.get("status", "not measured"))
        profile = {"unattended": unattended, "approval": approval}
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
