"""Backpressure on the local stack (`make burst`): a burst of events, the queue until drained.

- Publishes BURST_EVENTS events (default 5000, about 3.5 minutes to drain on the local stack)
  over BURST_SECONDS (default 10) to the events topic with SNS PublishBatch (10 entries a
  call, from BURST_THREADS threads, calls spread evenly over the window). They are
  ``BenchEvent``s: the only subscription whose filter policy accepts them is audit-log's (which
  takes every event type, so any burst of real events reaches it too), and audit-log's effect
  is one audit entry per event id, cheap to check.
- Every ~0.5 s: audit-log's queue depth (ApproximateNumberOfMessages + NotVisible), its DLQ's
  depth, and how many audit-log execution environments (bootstrap host processes started by
  our LocalStack executor) are alive. Until the queue has been empty for two samples after the
  publishing ended, or BURST_MAX_WAIT_S (default 600) has passed.
- Then: how many of the burst's event ids have an audit entry (lost = published - audited -
  still queued - in the DLQ; the claim is 0), the invocations (REPORT lines of audit-log's log
  group: count, durations, the most that overlapped), duplicate deliveries the idempotency
  check skipped ("duplicate delivery" log lines), throttles (the AWS/Lambda Throttles metric,
  and LocalStack's own log), and the event source mapping's ScalingConfig as LocalStack keeps it.
- Writes bench/burst/results.json, results.md and drain.png (plotted by bench/burst_plot.py
  with PLOT_PYTHON: matplotlib lives in its own venv). Deletes the burst's audit entries and
  idempotency claims afterwards (integration tests scan the audit table), unless
  BURST_KEEP_ROWS=1.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "burst"
CONSUMER = "audit-log"

EVENTS = int(os.environ.get("BURST_EVENTS", "5000"))
SECONDS = float(os.environ.get("BURST_SECONDS", "10"))
THREADS = int(os.environ.get("BURST_THREADS", "4"))
SAMPLE_S = float(os.environ.get("BURST_SAMPLE_S", "0.5"))
MAX_WAIT_S = float(os.environ.get("BURST_MAX_WAIT_S", "600"))
KEEP_ROWS = os.environ.get("BURST_KEEP_ROWS") == "1"


def _clients():
    cfg = Config(retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=THREADS + 4,
                 read_timeout=60, connect_timeout=10)
    region = os.environ.get("AWS_REGION", "us-east-1")
    return {name: boto3.client(name, region_name=region, config=cfg)
            for name in ("sns", "sqs", "dynamodb", "logs", "cloudwatch", "lambda")}


# --- the consumer's execution environments ---------------------------------------------


def _environments(function_name: str) -> int:
    """Live bootstrap processes of the function (one per execution environment)."""
    n = 0
    for env_file in Path("/proc").glob("[0-9]*/environ"):
        try:
            data = env_file.read_bytes()
        except OSError:
            continue
        if f"AWS_LAMBDA_FUNCTION_NAME={function_name}\0".encode() not in data:
            continue
        try:
            cmd = (env_file.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"bootstrap") for part in cmd) and b"setpriv" not in cmd[0]:
            n += 1
    return n


# --- publishing -------------------------------------------------------------------------


def _event(run: str, i: int) -> tuple[str, str]:
    event_id = str(uuid.uuid4())
    return event_id, json.dumps({
        "eventId": event_id, "eventType": "BenchEvent", "eventVersion": 1,
        "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "correlationId": f"bench-burst-{run}-{i}", "source": "bench", "detail": {"n": i},
    })


class Publisher:
    def __init__(self, sns, topic: str, run: str):
        self.sns, self.topic, self.run = sns, topic, run
        self.ids: list[str] = []
        self.failed = 0
        self.published_at: list[tuple[float, int]] = []  # (t, entries accepted by this call)
        self.lock = threading.Lock()

    def batch(self, t0: float, at: float, start: int, end: int) -> None:
        delay = t0 + at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        events = [_event(self.run, i) for i in range(start, end)]
        entries = [{"Id": str(k), "Message": body, "MessageAttributes": {
            "eventType": {"DataType": "String", "StringValue": "BenchEvent"}}}
            for k, (_, body) in enumerate(events)]
        resp = self.sns.publish_batch(TopicArn=self.topic, PublishBatchRequestEntries=entries)
        ok = {int(e["Id"]) for e in resp.get("Successful", [])}
        with self.lock:
            self.ids.extend(events[k][0] for k in ok)
            self.failed += len(events) - len(ok)
            self.published_at.append((time.perf_counter() - t0, len(ok)))


# --- after the burst ----------------------------------------------------------------------


def _audited(ddb, table: str, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 100):
        keys = [{"event_id": {"S": i}} for i in ids[start:start + 100]]
        request = {table: {"Keys": keys, "ConsistentRead": True, "ProjectionExpression": "event_id"}}
        while request:
            resp = ddb.batch_get_item(RequestItems=request)
            found.update(item["event_id"]["S"] for item in resp["Responses"].get(table, []))
            request = resp.get("UnprocessedKeys") or None
    return found


def _delete(ddb, table: str, key: str, values: list[str]) -> None:
    for start in range(0, len(values), 25):
        request = {table: [{"DeleteRequest": {"Key": {key: {"S": v}}}} for v in values[start:start + 25]]}
        while request:
            request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or None


def _log_events(logs, group: str, pattern: str, start_ms: int, end_ms: int) -> list[dict]:
    events, kwargs = [], {"logGroupName": group, "filterPattern": pattern,
                          "startTime": start_ms, "endTime": end_ms}
    while True:
        try:
            resp = logs.filter_log_events(**kwargs)
        except logs.exceptions.ResourceNotFoundException:
            return events
        events.extend(resp.get("events", []))
        token = resp.get("nextToken")
        if not token:
            return events
        kwargs["nextToken"] = token


def _invocations(reports: list[dict]) -> dict:
    """REPORT lines -> (start, end) intervals: the executor ships an invocation's lines when it
    ends, so the event's timestamp is its end and Duration gives its start."""
    spans = []
    for e in reports:
        msg = e["message"]
        try:
            ms = float(msg.split("Duration: ", 1)[1].split(" ms", 1)[0])
        except (IndexError, ValueError):
            continue
        spans.append((e["timestamp"] - ms, float(e["timestamp"]), ms))
    edges = sorted([(s, 1) for s, _, _ in spans] + [(end, -1) for _, end, _ in spans], key=lambda x: (x[0], x[1]))
    cur = peak = 0
    for _, d in edges:
        cur += d
        peak = max(peak, cur)
    durations = sorted(ms for _, _, ms in spans)
    busy = sum(durations) / 1000

    def pct(p):
        return round(durations[min(len(durations) - 1, int(p * len(durations)))], 1) if durations else None
    return {"count": len(spans), "max_overlapping": peak, "busy_s": round(busy, 1),
            "duration_ms": {"p50": pct(0.5), "p90": pct(0.9), "max": round(durations[-1], 1) if durations else None},
            "timeouts": sum(1 for e in reports if "Status: timeout" in e["message"]),
            "errors": sum(1 for e in reports if "Status: error" in e["message"])}


def _throttle_metric(cw, function_name: str, start: dt.datetime, end: dt.datetime) -> dict:
    out = {}
    for metric in ("Throttles", "Invocations", "Errors"):
        resp = cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, StartTime=start, EndTime=end, Period=60,
            Statistics=["Sum"], Dimensions=[{"Name": "FunctionName", "Value": function_name}])
        points = resp.get("Datapoints", [])
        out[metric] = {"datapoints": len(points), "sum": sum(p["Sum"] for p in points)}
    return out


def _localstack_log_since(offset: int) -> dict:
    path = REPO / ".local" / "localstack.log"
    counts = {"throttled": 0, "TooManyRequestsException": 0, "poller errors": 0}
    if not path.exists():
        return {"available": False}
    with open(path, "rb") as f:
        f.seek(offset)
        for raw in f:
            line = raw.decode(errors="replace")
            if "Throttled" in line:
                counts["throttled"] += 1
            if "TooManyRequestsException" in line:
                counts["TooManyRequestsException"] += 1
            if "Error while polling messages" in line:
                counts["poller errors"] += 1
    return {"available": True, **counts}


def _localstack_esm_settings() -> dict:
    """LocalStack's LAMBDA_EVENT_SOURCE_MAPPING_* settings, read from its process (infra/local/start.sh)."""
    try:
        pid = int((REPO / ".local" / "localstack.pid").read_text().strip())
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return {}
    return dict(kv.decode().split("=", 1) for kv in env if kv.startswith(b"LAMBDA_EVENT_SOURCE_MAPPING_"))


def _rate_series(samples: list[dict], published: list[tuple[float, int]]) -> list[dict]:
    """consumed(t) = published by t - depth(t) - DLQ(t), per sample; rate over a 5 s window."""
    pub = sorted(published)
    out, k, total = [], 0, 0
    for s in samples:
        while k < len(pub) and pub[k][0] <= s["t"]:
            total += pub[k][1]
            k += 1
        out.append({"t": s["t"], "consumed": max(0, total - s["depth"] - s["dlq"])})
    for i, point in enumerate(out):
        j = i
        while j > 0 and point["t"] - out[j - 1]["t"] <= 5.0:
            j -= 1
        dt_s = point["t"] - out[j]["t"]
        point["rate"] = (point["consumed"] - out[j]["consumed"]) / dt_s if dt_s >= 2.0 else None
    return out


def _wait_for_localstack(seconds: float = 120.0) -> None:
    import urllib.request
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:4566/_localstack/health", timeout=3):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("burst: LocalStack does not answer on 127.0.0.1:4566 (make up)")
            time.sleep(2)


def main() -> int:
    _wait_for_localstack()
    outputs = json.loads((REPO / ".local" / "stack-outputs.json").read_text())
    topic, queue, dlq = outputs["EventsTopicArn"], outputs["AuditLogQueueUrl"], outputs["AuditLogDlqUrl"]
    table, idem, function = outputs["AuditTableName"], outputs["IdempotencyTableName"], outputs["AuditLogFunctionName"]
    c = _clients()
    run = uuid.uuid4().hex[:8]
    OUT.mkdir(parents=True, exist_ok=True)

    def depth(url: str) -> tuple[int, int]:
        a = c["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])

    visible, inflight = depth(queue)
    dlq_before = sum(depth(dlq))
    if visible + inflight:
        print(f"burst: audit-log's queue is not empty ({visible + inflight} messages); waiting up to 60 s", file=sys.stderr)
        for _ in range(120):
            time.sleep(0.5)
            if sum(depth(queue)) == 0:
                break
    mappings = c["lambda"].list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    esm = next((m for m in mappings if m.get("EventSourceArn") == outputs["AuditLogQueueArn"]), {})
    concurrency = c["lambda"].get_function_concurrency(FunctionName=function).get("ReservedConcurrentExecutions")
    log_path = REPO / ".local" / "localstack.log"
    log_offset = log_path.stat().st_size if log_path.exists() else 0

    publisher = Publisher(c["sns"], topic, run)
    batches = [(i, min(i + 10, EVENTS)) for i in range(0, EVENTS, 10)]
    spacing = SECONDS / len(batches)
    samples: list[dict] = []
    done_publishing = threading.Event()
    wall_start = dt.datetime.now(dt.timezone.utc)
    start_ms = int(time.time() * 1000)
    t0 = time.perf_counter()

    def publish_all():
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(lambda b: publisher.batch(t0, b[1] * spacing, *b[0]),
                          [(b, k) for k, b in enumerate(batches)]))
        publisher.publish_s = time.perf_counter() - t0
        done_publishing.set()

    print(f"burst: run {run}: {EVENTS} BenchEvents over {SECONDS:g} s ({len(batches)} PublishBatch calls, {THREADS} threads)",
          file=sys.stderr)
    threading.Thread(target=publish_all, daemon=True).start()
    empty_after_publish = 0
    drained_at = None
    while True:
        t = time.perf_counter() - t0
        v, nv = depth(queue)
        d = sum(depth(dlq)) - dlq_before
        samples.append({"t": round(t, 2), "visible": v, "in_flight": nv, "depth": v + nv, "dlq": d,
                        "environments": _environments(function)})
        if len(samples) % 20 == 0:
            print(f"  t={t:6.1f}s depth={v + nv:5d} (in flight {nv}) dlq={d} published={len(publisher.ids)}", file=sys.stderr)
        if done_publishing.is_set() and v + nv == 0:
            empty_after_publish += 1
            if empty_after_publish >= 2:
                drained_at = samples[-2]["t"]
                break
        else:
            empty_after_publish = 0
        if t > MAX_WAIT_S:
            break
        time.sleep(max(0.0, SAMPLE_S - (time.perf_counter() - t0 - t)))
    end_ms = int(time.time() * 1000) + 2000
    wall_end = dt.datetime.now(dt.timezone.utc)
    time.sleep(3)  # the last invocation's log lines and metrics

    ids = publisher.ids
    found = _audited(c["dynamodb"], table, ids)
    left_v, left_nv = depth(queue)
    in_dlq = sum(depth(dlq)) - dlq_before
    lost = len(ids) - len(found) - left_v - left_nv - max(0, in_dlq)
    group = f"/aws/lambda/{function}"
    # LocalStack's filter patterns match loosely: the lines are checked here as well
    reports = [e for e in _log_events(c["logs"], group, '"REPORT RequestId"', start_ms - 1000, end_ms + 5000)
               if e["message"].startswith("REPORT RequestId")]
    duplicates = [e for e in _log_events(c["logs"], group, '"duplicate delivery"', start_ms - 1000, end_ms + 5000)
                  if "duplicate delivery, already processed" in e["message"]]
    inv = _invocations(reports)
    series = _rate_series(samples, publisher.published_at)
    rates = [p["rate"] for p in series if p["rate"] is not None]
    peak = max(samples, key=lambda s: s["depth"])
    publish_s = getattr(publisher, "publish_s", None)
    result = {
        "run": run, "date": wall_start.strftime("%Y-%m-%d %H:%M UTC"), "consumer": CONSUMER,
        "events": EVENTS, "published": len(ids), "publish_failed": publisher.failed,
        "publish_window_s": SECONDS, "publish_s": round(publish_s, 2) if publish_s else None,
        "threads": THREADS,
        "peak_depth": peak["depth"], "time_to_peak_s": peak["t"],
        "drained": drained_at is not None, "drain_s": drained_at,
        "after_publish_drain_s": round(drained_at - publish_s, 1) if drained_at and publish_s else None,
        "left_in_queue": left_v + left_nv,
        "messages_per_s": {
            "mean": round(len(found) / drained_at, 1) if drained_at else None,
            "peak_5s": round(max(rates), 1) if rates else None,
        },
        "audited": len(found), "in_dlq": in_dlq, "lost": lost,
        "duplicates_skipped": len(duplicates),
        "invocations": inv,
        "records_per_invocation": round(len(found) / inv["count"], 2) if inv["count"] else None,
        "environments_max": max(s["environments"] for s in samples),
        "throttles": {"cloudwatch": _throttle_metric(c["cloudwatch"], function, wall_start,
                                                     wall_end + dt.timedelta(minutes=2)),
                      "localstack_log": _localstack_log_since(log_offset)},
        "event_source_mapping": {"BatchSize": esm.get("BatchSize"), "ScalingConfig": esm.get("ScalingConfig"),
                                 "MaximumBatchingWindowInSeconds": esm.get("MaximumBatchingWindowInSeconds")},
        "reserved_concurrency": concurrency,
        "localstack_esm_settings": _localstack_esm_settings(),
        "samples": samples, "consumed": series,
    }
    if not KEEP_ROWS:
        _delete(c["dynamodb"], table, "event_id", sorted(found))
        _delete(c["dynamodb"], idem, "pk", [f"{CONSUMER}#{i}" for i in ids])
        result["rows_deleted"] = True
    (OUT / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    (OUT / "results.md").write_text(_markdown(result))
    plot_python = os.environ.get("PLOT_PYTHON")
    if plot_python:
        subprocess.run([plot_python, str(REPO / "bench" / "burst_plot.py"), str(OUT / "results.json"),
                        str(OUT / "drain.png")], check=True)
    else:
        print("burst: PLOT_PYTHON not set: no drain.png", file=sys.stderr)
    print((OUT / "results.md").read_text())
    return 0 if result["lost"] == 0 else 1


def _markdown(r: dict) -> str:
    inv, th = r["invocations"], r["throttles"]
    cw = th["cloudwatch"]
    ls = th["localstack_log"]
    mps = r["messages_per_s"]
    rows = [
        ("events published (SNS PublishBatch)", f"{r['published']} of {r['events']} in {r['publish_s']} s "
         f"(window {r['publish_window_s']:g} s, {r['threads']} threads); {r['publish_failed']} refused"),
        ("peak queue depth (visible + in flight)", f"**{r['peak_depth']}** at {r['time_to_peak_s']} s"),
        ("drain time (from the first publish)", f"**{r['drain_s']} s**" if r["drained"]
         else f"not drained after {r['samples'][-1]['t']} s: {r['left_in_queue']} left"),
        ("drain after publishing ended", f"{r['after_publish_drain_s']} s"),
        ("messages consumed per second", f"mean **{mps['mean']}**, peak {mps['peak_5s']} (5 s window)"),
        ("invocations (REPORT lines)", f"{inv['count']}, {r['records_per_invocation']} records each on average; "
         f"duration p50 {inv['duration_ms']['p50']} ms, p90 {inv['duration_ms']['p90']} ms, max {inv['duration_ms']['max']} ms; "
         f"{inv['timeouts']} timeouts, {inv['errors']} errors"),
        ("max concurrent invocations", f"**{inv['max_overlapping']}** (overlapping REPORT intervals); "
         f"execution environments alive at once: {r['environments_max']}; busy {inv['busy_s']} s of {r['drain_s']} s"),
        ("throttles", f"CloudWatch AWS/Lambda Throttles: {cw['Throttles']['datapoints']} datapoints, sum {cw['Throttles']['sum']:g} "
         f"(Invocations: {cw['Invocations']['sum']:g}, Errors: {cw['Errors']['sum']:g}); LocalStack log: "
         + (f"{ls['throttled']} 'Throttled', {ls['TooManyRequestsException']} TooManyRequestsException, "
            f"{ls['poller errors']} poller errors" if ls.get("available") else "not available")),
        ("audited (effect present)", f"{r['audited']} of {r['published']}"),
        ("in the DLQ", str(r["in_dlq"])),
        ("**lost**", f"**{r['lost']}**"),
        ("duplicate deliveries skipped (idempotency)", str(r["duplicates_skipped"])),
        ("event source mapping (as LocalStack keeps it)", f"BatchSize {r['event_source_mapping']['BatchSize']}, "
         f"ScalingConfig {json.dumps(r['event_source_mapping']['ScalingConfig'])}, MaximumBatchingWindowInSeconds "
         f"{r['event_source_mapping']['MaximumBatchingWindowInSeconds']}; reserved concurrency: {r['reserved_concurrency']}"),
        ("LocalStack's mapping settings", ", ".join(f"`{k}={v}`" for k, v in sorted(r["localstack_esm_settings"].items()))
         or "unknown"),
    ]
    lines = [f"# Burst: {r['events']} events in {r['publish_window_s']:g} s → {r['consumer']} ({r['date']}, run {r['run']})",
             "", "| figure | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += ["", "![drain curve](drain.png)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
