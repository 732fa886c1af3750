"""Runs a real Lambda ``bootstrap`` under a Lambda Runtime API of our own and times it.

Two loopback servers, stdlib only:

* ``RuntimeApi``: the Lambda Runtime API (``/2018-06-01/runtime/invocation/next``,
  ``.../{id}/response``, ``.../{id}/error``, ``.../init/error``) for one process. It records
  when the process first asks for work (end of init) and, per invocation, when the event was
  handed out and when the result came back.
* ``TimingProxy``: a transparent HTTP proxy the function's SDK talks to
  (``AWS_ENDPOINT_URL`` points at it; it forwards to LocalStack). It records every AWS call
  (start = its request line arrived, end = its response was written), so an invocation's time
  *outside* AWS calls is its duration minus the calls inside its window. DynamoDB requests get
  ``ReturnConsumedCapacity: TOTAL`` added, so the capacity units each call really consumed are
  read from the emulator's answer (instrumentation only: the SDK ignores the extra field).

This is deliberately separate from the LocalStack executor plugin
(``infra/local/lambda_host_executor``): that one is built around LocalStack's futures and
CloudWatch log shipping; here we need a lean server with precise timestamps and no LocalStack
in the measured path between the runtime and its events.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"
PREFIX = "/2018-06-01/runtime"
now = time.perf_counter


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a killed process resets its connections: expected, not worth a traceback
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed ACK
    # stall every response ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass

    def handle_one_request(self):
        # Same as the stdlib's, plus a timestamp taken as soon as the request line arrived
        # (before header parsing), so the server's own parsing time is on our side of the clock.
        try:
            self.raw_requestline = self.rfile.readline(65537)
            self.t_arrived = now()
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self.send_error(501)
                return
            method()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()


# --- AWS call timing proxy ---------------------------------------------------------------


class AwsCall:
    __slots__ = ("start", "end", "service", "operation", "status", "read_units", "write_units")

    def __init__(self, start, end, service, operation, status, read_units, write_units):
        self.start, self.end = start, end
        self.service, self.operation, self.status = service, operation, status
        self.read_units, self.write_units = read_units, write_units

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000


def _capacity(consumed) -> tuple[float, float]:
    """(read, write) capacity units from a ConsumedCapacity value (object or list)."""
    if not consumed:
        return 0.0, 0.0
    items = consumed if isinstance(consumed, list) else [consumed]
    read = write = 0.0
    for c in items:
        if "ReadCapacityUnits" in c or "WriteCapacityUnits" in c:
            read += float(c.get("ReadCapacityUnits") or 0)
            write += float(c.get("WriteCapacityUnits") or 0)
        else:  # only the total: attribute it by operation kind later
            read += float(c.get("CapacityUnits") or 0)
    return read, write


_WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


class _ProxyHandler(_QuietHandler):
    proxy: TimingProxy

    def _forward(self):
        self.proxy.begin()
        try:
            self._forward_one()
        finally:
            self.proxy.end()

    def _forward_one(self):
        body = self.body()
        target = self.headers.get("X-Amz-Target", "")
        service, _, operation = target.partition(".")
        if not target:  # query protocol (SNS, STS, ...): Action=... in the form body
            form = urllib.parse.parse_qs(body.decode(errors="replace")) if body else {}
            service, operation = self.headers.get("Host", "?"), (form.get("Action") or [self.command])[0]
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        is_ddb = service.startswith("DynamoDB")
        if is_ddb and body:
            try:
                doc = json.loads(body)
                if isinstance(doc, dict) and "ReturnConsumedCapacity" not in doc:
                    doc["ReturnConsumedCapacity"] = "TOTAL"
                    body = json.dumps(doc).encode()
            except ValueError:
                pass
        conn = self.proxy.upstream()
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            self.proxy.drop_upstream()
            raise
        read_units = write_units = 0.0
        if is_ddb and data:
            try:
                doc = json.loads(data)
                read_units, write_units = _capacity(doc.get("ConsumedCapacity"))
                if operation in _WRITE_OPS and write_units == 0 and read_units:
                    read_units, write_units = 0.0, read_units
                # A failed conditional write is still billed (1 WRU for an item up to 1 KB), but
                # the error answer carries no ConsumedCapacity.
                if (operation in _WRITE_OPS and resp.status == 400
                        and "ConditionalCheckFailed" in str(doc.get("__type", ""))):
                    write_units = max(write_units, 1.0)
            except (ValueError, AttributeError):
                pass
        out = {k: v for k, v in resp.getheaders() if k.lower() not in ("content-length", "connection", "transfer-encoding")}
        self.reply(resp.status, data, out)
        self.proxy.record(AwsCall(self.t_arrived, now(), service, operation, resp.status, read_units, write_units))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward


class TimingProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream_host, self.upstream_port = upstream_host, upstream_port
        self.calls: list[AwsCall] = []
        self.inflight = 0
        self.lock = threading.Lock()
        self.local = threading.local()
        handler = type("BoundProxyHandler", (_ProxyHandler,), {"proxy": self})
        self.server = _Server((HOST, 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True, name="aws-proxy").start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def upstream(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
            self.local.conn = conn
        return conn

    def drop_upstream(self):
        conn = getattr(self.local, "conn", None)
        if conn is not None:
            conn.close()
            self.local.conn = None

    def begin(self):
        with self.lock:
            self.inflight += 1

    def end(self):
        with self.lock:
            self.inflight -= 1

    def record(self, call: AwsCall):
        with self.lock:
            self.calls.append(call)

    def settle(self, timeout: float = 1.0):
        """Waits until no call is being proxied (its record lands just after its answer)."""
        deadline = now() + timeout
        while now() < deadline:
            with self.lock:
                if self.inflight == 0:
                    return
            time.sleep(0.0002)

    def calls_between(self, start: float, end: float) -> list[AwsCall]:
        """Calls that started inside [start, end]."""
        with self.lock:
            return [c for c in self.calls if start <= c.start <= end]

    @staticmethod
    def busy_ms(calls: list[AwsCall], start: float, end: float) -> float:
        """Wall time inside [start, end] during which at least one call was in flight (calls
        made concurrently, e.g. a batch consumer's records, count once)."""
        spans = sorted((max(c.start, start), min(c.end, end)) for c in calls)
        total, cur_s, cur_e = 0.0, None, None
        for s, e in spans:
            if e <= s:
                continue
            if cur_e is None or s > cur_e:
                if cur_e is not None:
                    total += cur_e - cur_s
                cur_s, cur_e = s, e
            else:
                cur_e = max(cur_e, e)
        if cur_e is not None:
            total += cur_e - cur_s
        return total * 1000

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- Lambda Runtime API ------------------------------------------------------------------


class Invocation:
    def __init__(self, payload: bytes):
        self.request_id = str(uuid.uuid4())
        self.payload = payload
        self.handed_out: float | None = None  # event written to the runtime's /next
        self.returned: float | None = None  # its /response (or /error) request line arrived
        self.result: bytes = b""
        self.is_error = False
        self.sent = threading.Event()
        self.done = threading.Event()

    @property
    def ms(self) -> float:
        return (self.returned - self.handed_out) * 1000


class _RuntimeHandler(_QuietHandler):
    api: RuntimeApi

    def do_GET(self):
        if self.path != f"{PREFIX}/invocation/next":
            return self.reply(404)
        api = self.api
        if api.first_next is None:
            api.first_next = self.t_arrived
            api.ready.set()
        inv = api.queue.get()
        if inv is None:  # shutting down
            self.close_connection = True
            return self.reply(410)
        deadline = int(time.time() * 1000) + 30_000
        # registered before the event goes out: a fast runtime answers before we return here
        api.current = inv
        head = (
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/json\r\n"
            f"Lambda-Runtime-Aws-Request-Id: {inv.request_id}\r\n"
            f"Lambda-Runtime-Deadline-Ms: {deadline}\r\n"
            f"Lambda-Runtime-Invoked-Function-Arn: {api.function_arn}\r\n"
            f"Lambda-Runtime-Trace-Id: Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0\r\n"
            f"Content-Length: {len(inv.payload)}\r\n\r\n"
        ).encode()
        # one write, timestamped just before it: the runtime cannot have the event earlier
        inv.handed_out = now()
        self.wfile.write(head + inv.payload)
        self.wfile.flush()
        inv.sent.set()

    def do_POST(self):
        api = self.api
        body = self.body()
        if self.path == f"{PREFIX}/init/error":
            api.init_error = body.decode(errors="replace")
            api.ready.set()
            return self.reply(202)
        parts = self.path[len(PREFIX) :].split("/")  # ['', 'invocation', id, 'response']
        inv = api.current
        if len(parts) != 4 or inv is None or parts[2] != inv.request_id:
            return self.reply(400)
        inv.returned = self.t_arrived
        inv.result = body
        inv.is_error = parts[3] == "error"
        self.reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
        api.current = None
        inv.sent.wait(5)  # handed_out is set once the /next handler has finished writing
        inv.done.set()


class RuntimeApi:
    def __init__(self, function_arn: str):
        self.function_arn = function_arn
        self.queue: queue.Queue[Invocation | None] = queue.Queue()
        self.first_next: float | None = None
        self.init_error: str | None = None
        self.ready = threading.Event()
        self.current: Invocation | None = None
        handler = type("BoundRuntimeHandler", (_RuntimeHandler,), {"api": self})
        self.server = _Server((HOST, 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True, name="runtime-api").start()

    def close(self):
        self.queue.put(None)
        self.server.shutdown()
        self.server.server_close()


class FunctionProcess:
    """One execution environment: a fresh ``bootstrap`` process behind its own Runtime API."""

    def __init__(self, bootstrap: str, env: dict[str, str], function_arn: str, log_path: str):
        self.api = RuntimeApi(function_arn)
        env = dict(env)
        env["AWS_LAMBDA_RUNTIME_API"] = f"{HOST}:{self.api.port}"
        self.log = open(log_path, "ab")
        self.spawned = now()
        self.proc = subprocess.Popen(
            [bootstrap],
            cwd=os.path.dirname(bootstrap),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 10.0) -> float:
        """Milliseconds from spawn to the first ``/next`` (the init phase)."""
        deadline = now() + timeout
        while not self.api.ready.wait(0.05):
            if self.proc.poll() is not None:
                raise RuntimeError(f"bootstrap exited during init: status {self.proc.returncode}")
            if now() > deadline:
                raise RuntimeError("bootstrap did not ask for work within the timeout")
        if self.api.init_error is not None:
            raise RuntimeError(f"init error: {self.api.init_error}")
        return (self.api.first_next - self.spawned) * 1000

    def invoke(self, payload: bytes, timeout: float = 30.0) -> Invocation:
        inv = Invocation(payload)
        self.api.queue.put(inv)
        if not inv.done.wait(timeout):
            raise RuntimeError(f"invocation timed out after {timeout}s")
        return inv

    def peak_rss_kb(self) -> int | None:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=5)
        self.api.close()
        self.log.close()
