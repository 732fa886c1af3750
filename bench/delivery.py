"""Event delivery on the local stack: publish -> consumer effect, and what the pollers cost idle.

- Latency: one event at a time is published to the events topic (SNS Publish, as the
  producers do) after an idle gap, and the time until its audit entry exists (audit-log's
  effect: SNS -> SQS -> LocalStack's event source mapping -> the function -> DynamoDB) is timed
  by polling the audit table every 10 ms. The gaps (0.2 s to 3 s) leave the mapping idle
  between events, as an event usually finds it. ``BenchEvent`` matches no other consumer's
  filter policy.
- Idle CPU: the CPU time of LocalStack's process group (it and every function process it
  started) over a quiet interval, as a share of one core: the price of the way the mappings
  poll (a 10 s long poll per standard queue, the template's batching window on LocalStack;
  LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC and _MAX_BACKOFF_ON_EMPTY_POLL_SEC, see
  infra/local/start.sh).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from functions import summary

GAPS_S = (0.2, 1.0, 3.0, 0.5, 2.0)
TIMEOUT_S = 15.0


def _audited(ddb, table: str, event_id: str) -> bool:
    return "Item" in ddb.get_item(TableName=table, Key={"event_id": {"S": event_id}}, ConsistentRead=True)


def latency(outputs: dict, sns, ddb, events: int) -> dict:
    topic, table = outputs.get("EventsTopicArn"), outputs.get("AuditTableName")
    if not topic or not table:
        return {"name": "event delivery (publish → consumer effect)", "status": "not deployed"}
    samples, lost = [], 0
    for i in range(events):
        time.sleep(GAPS_S[i % len(GAPS_S)])
        event_id = str(uuid.uuid4())
        body = json.dumps({
            "eventId": event_id, "eventType": "BenchEvent", "eventVersion": 1,
            "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "correlationId": f"bench-delivery-{i}", "source": "bench", "detail": {"n": i},
        })
        t0 = time.perf_counter()
        sns.publish(TopicArn=topic, Message=body, MessageAttributes={
            "eventType": {"DataType": "String", "StringValue": "BenchEvent"}})
        while not _audited(ddb, table, event_id):
            if time.perf_counter() - t0 > TIMEOUT_S:
                lost += 1
                break
            time.sleep(0.01)
        else:
            samples.append((time.perf_counter() - t0) * 1000)
    return {
        "name": "event delivery (publish → consumer effect)",
        "status": "measured-delivery",
        "events": events,
        "not_seen_within_s": {"count": lost, "timeout_s": TIMEOUT_S},
        "latency_ms": summary(samples),
        "consumer": "audit-log",
        "note": f"one SNS Publish at a time after idle gaps of {', '.join(f'{g:g}' for g in GAPS_S)} s; "
                "until its audit entry exists (GetItem every 10 ms)",
    }


def _group_cpu_ticks(pgid: int) -> int:
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks


def idle_cpu(repo: Path, seconds: float = 10.0) -> dict:
    pidfile = repo / ".local" / "localstack.pid"
    if not pidfile.exists():
        return {"status": "LocalStack not started by infra/local/start.sh"}
    pgid = int(pidfile.read_text().strip())
    hz = os.sysconf("SC_CLK_TCK")
    time.sleep(2.0)  # let the last invocations settle
    before, t0 = _group_cpu_ticks(pgid), time.perf_counter()
    time.sleep(seconds)
    used = (_group_cpu_ticks(pgid) - before) / hz
    return {"status": "measured", "seconds": seconds,
            "share_of_one_core": used / (time.perf_counter() - t0),
            "polling": "10 s long polls; {} s between polls that found messages; empty-poll back-off ≤ {} s".format(
                os.environ.get("LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC", "0.25"),
                os.environ.get("LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC", "0.5"))}
