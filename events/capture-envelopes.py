#!/usr/bin/env python3
"""Captures one real envelope of every event type from the local stack into events/envelopes/.

    make up && make capture-envelopes

The envelopes built by the functions and by the state machines (ASL `Parameters`) are the
contract the consumers decode (shop_core::events); `crates/shop-core/src/events/tests.rs`
decodes every file written here, so a producer that drifts from the Rust types fails a test.

How: a temporary queue subscribed to the topic (raw delivery, no filter) sees every event
published on the bus; the approvals and payments-ledger queues, which the workflows write to
directly, are read with their consumers' event source mappings paused for the duration. The traffic is a
shopper's: register (twice: DuplicateRegistration), a wrong password five times (LoginFailed, AccountLocked), log in, check
out and cancel (OrderPlaced, PaymentCaptured, OrderCancelled, PaymentRefunded), check out and
wait out the cancel window (OrderShipped), check out above the approval threshold
(ApprovalRequested), cancel an order whose refund keeps failing (RepairRequested, built by
the cancel-order workflow). Paused queues are read once per message and left as they were:
their consumers process everything when the mappings resume. Ids, tokens and e-mails are the run's own; nothing else is edited.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

import boto3

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "events", "envelopes")
TYPES = ["LoginSucceeded", "LoginFailed", "AccountLocked", "DuplicateRegistration", "OrderPlaced", "OrderShipped",
         "OrderCancelled", "ApprovalRequested", "PaymentCaptured", "PaymentRefunded",
         "RepairRequested"]
PASSWORD = "correct horse battery staple"


def outputs():
    with open(os.path.join(REPO, ".local", "stack-outputs.json")) as f:
        return json.load(f)


def call(base, method, path, token=None, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def expect(result, *statuses):
    status, body = result
    if status not in statuses:
        sys.exit(f"unexpected answer {status}: {body}")
    return body


def checkout(base, token, sku, quantity, payment="tok_ok"):
    expect(call(base, "PUT", f"/cart/items/{sku}", token, {"quantity": quantity}), 200)
    body = expect(call(base, "POST", "/checkout", token, {"paymentToken": payment},
                       {"Idempotency-Key": uuid.uuid4().hex}), 202)
    return body["orderId"]


def wait_status(base, token, order_id, statuses, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        status, body = call(base, "GET", f"/orders/{order_id}", token)
        if status == 200 and body.get("status") in statuses:
            return body["status"]
        time.sleep(0.5)
    sys.exit(f"order {order_id} did not reach {statuses}")


def drain(sqs, queue_url, found, seconds):
    """Reads envelopes from a queue into `found` (first of each type wins). Each message is
    received once (a long visibility timeout) and made visible again at once afterwards, so
    its receive count stays at 1: a paused consumer's queue must not push it to the DLQ."""
    received = []
    deadline = time.time() + seconds
    while time.time() < deadline and not all(t in found for t in TYPES):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1, VisibilityTimeout=120).get("Messages", [])
        for message in messages:
            envelope = json.loads(message["Body"])
            found.setdefault(envelope.get("eventType"), envelope)
            received.append(message["ReceiptHandle"])
    return received


def release(sqs, queue_url, handles):
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)


def main():
    out = outputs()
    base = out.get("ApiBaseUrlPlain", out["ApiBaseUrl"])  # urllib here; the tests use HTTPS
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    lam, ddb = boto3.client("lambda"), boto3.client("dynamodb")

    capture_url = sqs.create_queue(QueueName=f"capture-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    capture_arn = sqs.get_queue_attributes(QueueUrl=capture_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=out["EventsTopicArn"], Protocol="sqs",
                                 Endpoint=capture_arn,
                                 Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    paused, held = [], {}
    for function in ("approvals", "ledger", "repair"):
        name = f"{out['StackName']}-{function}"
        for mapping in lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]:
            lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
            paused.append(mapping["UUID"])
    try:
        time.sleep(2)  # let the pollers see the pause
        email = f"capture-{uuid.uuid4().hex[:8]}@example.com"
        expect(call(base, "POST", "/auth/register", body={"email": email, "password": PASSWORD}),
               202)
        # the same address again: DuplicateRegistration (the API answers as for a new one)
        expect(call(base, "POST", "/auth/register", body={"email": email, "password": PASSWORD}),
               202)
        victim = f"capture-{uuid.uuid4().hex[:8]}@example.com"
        expect(call(base, "POST", "/auth/register", body={"email": victim, "password": PASSWORD}),
               202)
        for _ in range(5):
            call(base, "POST", "/auth/login", body={"email": victim, "password": "wrong"})
        token = expect(call(base, "POST", "/auth/login",
                            body={"email": email, "password": PASSWORD}), 200)["token"]

        sku = f"CAPTURE-{uuid.uuid4().hex[:6].upper()}"
        ddb.put_item(TableName=out["ProductsTableName"], Item={
            "sku": {"S": sku}, "name": {"S": "Capture mug"}, "description": {"S": "capture"},
            "price_minor": {"N": "1299"}, "currency": {"S": "EUR"}, "stock": {"N": "500"}})
        cancelled = checkout(base, token, sku, 1)
        wait_status(base, token, cancelled, {"CONFIRMED"})
        expect(call(base, "POST", f"/orders/{cancelled}/cancel", token), 202)
        shipped = checkout(base, token, sku, 2)
        wait_status(base, token, shipped, {"CONFIRMED", "FULFILLED"})
        big = checkout(base, token, sku, 99)  # 99 × 12.99 EUR: above the approval threshold
        wait_status(base, token, big, {"PENDING", "AWAITING_APPROVAL"})
        # A cancel whose refund keeps failing: the workflow hands it to the repair queue.
        owed = checkout(base, token, sku, 1, payment="tok_refund_flaky_9")
        wait_status(base, token, owed, {"CONFIRMED"})
        expect(call(base, "POST", f"/orders/{owed}/cancel", token), 202)
        wait_status(base, token, owed, {"REFUND_PENDING"})

        found = {}
        for queue in ("ApprovalsQueueUrl", "PaymentsLedgerQueueUrl", "RepairQueueUrl"):
            held[queue] = drain(sqs, out[queue], found, 20)
        drain(sqs, capture_url, found, 60)
        missing = [t for t in TYPES if t not in found]
        if missing:
            sys.exit(f"not captured: {missing}")
        os.makedirs(OUT_DIR, exist_ok=True)
        for event_type in TYPES:
            path = os.path.join(OUT_DIR, f"{event_type}.json")
            with open(path, "w") as f:
                json.dump(found[event_type], f, indent=2, sort_keys=True)
                f.write("\n")
            print(f"wrote {os.path.relpath(path, REPO)} (source {found[event_type]['source']})")
    finally:
        for queue, handles in held.items():
            release(sqs, out[queue], handles)
        for mapping in paused:
            lam.update_event_source_mapping(UUID=mapping, Enabled=True)
        sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=capture_url)


if __name__ == "__main__":
    main()
