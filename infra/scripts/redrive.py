#!/usr/bin/env python3
"""Moves every message of a consumer's dead-letter queue back to its source queue.

    make redrive QUEUE=<audit-log|analytics|fraud-detector|notifier|approvals|fulfilment|ledger|repair|
                        image-checker|thumbnailer|catalog-images> [TARGET=aws]

Finds both queues in the outputs of the CloudFormation stack (STACK_NAME, default `shop`),
starts an SQS message move task (StartMessageMoveTask with an explicit DestinationArn:
LocalStack needs it, and it makes the intent explicit on AWS too) and waits until the task
has finished, printing how many messages moved and counting them as the metric `MessagesRedriven`
(dimension `Queue`). Uses the normal boto3 environment (local: infra/local/env.sh points it
at LocalStack).
"""
import os
import sys
import time

import boto3

CONSUMERS = {
    "audit-log": "AuditLog",
    "analytics": "Analytics",
    "fraud-detector": "FraudDetector",
    "notifier": "Notifier",
    "approvals": "Approvals",
    "fulfilment": "Fulfilment",
    "ledger": "PaymentsLedger",  # FIFO: the moved messages keep their group and order
    "repair": "Repair",
    # The media bucket's notifications (S3 event notifications, not envelopes): every consumer
    # is idempotent on the created object (bucket/key/eTag), so a redrive is as safe.
    "image-checker": "ImageChecker",
    "thumbnailer": "Thumbnailer",
    "catalog-images": "CatalogImages",
}


DEDUP_WINDOW_S = 300  # SQS FIFO deduplication interval


def fifo_wait_seconds(sqs, dlq_url: str) -> int:
    """Seconds until the newest message in a FIFO DLQ is out of the source queue's deduplication
    window (0 if it already is). A message keeps its SentTimestamp when it moves to the DLQ; a
    redrive inside the window resends its deduplication id, which the source queue may treat
    as a duplicate and drop (AWS gives DLQ messages a new deduplication id; LocalStack does not)."""
    newest = 0
    for _ in range(3):
        got = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                  AttributeNames=["SentTimestamp"]).get("Messages", [])
        newest = max([newest] + [int(m["Attributes"]["SentTimestamp"]) for m in got])
    return max(0, int(newest / 1000 + DEDUP_WINDOW_S - time.time()) + 1) if newest else 0


def count_redriven(stack: dict, queue: str, moved: int) -> None:
    """The business metric `MessagesRedriven` (dimension `Queue`), in the stack's metrics
    namespace (its `MetricsNamespace` parameter), beside the functions' EMF metrics: a redrive
    is an operator's action, made here and not by a function, so it is put directly."""
    params = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
    namespace = params.get("MetricsNamespace") or "ServerlessShop"
    boto3.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=[{
        "MetricName": "MessagesRedriven",
        "Dimensions": [{"Name": "Queue", "Value": queue}],
        "Value": moved,
        "Unit": "Count",
    }])
    print(f"{queue}: counted as {namespace}/MessagesRedriven")


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in CONSUMERS:
        print(f"usage: make redrive QUEUE=<{'|'.join(CONSUMERS)}>", file=sys.stderr)
        return 2
    stack = os.environ.get("STACK_NAME", "shop")
    desc = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}
    prefix = CONSUMERS[name]
    dlq_arn, queue_arn = outputs[f"{prefix}DlqArn"], outputs[f"{prefix}QueueArn"]
    sqs = boto3.client("sqs")
    dlq_url = outputs[f"{prefix}DlqUrl"]
    waiting = sqs.get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    if dlq_url.endswith(".fifo"):
        wait = fifo_wait_seconds(sqs, dlq_url)
        if wait > 0:
            print(f"{name}: the newest message in the DLQ was sent less than {DEDUP_WINDOW_S // 60} minutes ago; "
                  f"the FIFO queue could take it back for a duplicate and drop it (LocalStack does). "
                  f"Nothing moved: run this again in {wait} s.", file=sys.stderr)
            return 3
    print(f"{name}: {waiting} message(s) in the DLQ; moving them back to the queue")
    task = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=queue_arn)
    handle = task["TaskHandle"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        # Most recent task first. LocalStack leaves TaskHandle out of finished tasks: then the
        # most recent one is ours (a DLQ runs one move task at a time).
        for t in sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1).get("Results", []):
            if t.get("TaskHandle", handle) != handle:
                continue
            status = t.get("Status")
            if status == "COMPLETED":
                moved = int(t.get("ApproximateNumberOfMessagesMoved", 0))
                print(f"{name}: moved {moved} message(s)")
                count_redriven(desc, name, moved)
                return 0
            if status in ("FAILED", "CANCELLED"):
                print(f"{name}: move task {status}: {t.get('FailureReason', '')}", file=sys.stderr)
                return 1
        time.sleep(0.5)
    print(f"{name}: move task still running after 300 s (handle {handle})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
