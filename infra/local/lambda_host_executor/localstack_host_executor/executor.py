"""A LocalStack ``RuntimeExecutor`` that runs a function's ``bootstrap`` as a host process.

Stock LocalStack runs every execution environment in a Docker container with its Go
"runtime init" (which serves the Lambda Runtime API, enforces timeouts and collects logs).
This executor does those jobs itself, in LocalStack's own process:

* one *execution environment* (one ``HostRuntimeExecutor``) runs one ``bootstrap`` process
  (``provided.*`` runtimes: the zip must contain an executable ``bootstrap``);
* each process *generation* gets its own Runtime API server on ``127.0.0.1:<free port>``
  (``/2018-06-01/runtime/...``) plus the ``/invoke`` route that LocalStack's
  ``ExecutorEndpoint`` posts invocations to;
* results go back through the ``ExecutorEndpoint`` futures as ``InvocationResult``s, with the
  process output of that invocation as ``logs`` (LocalStack ships those to CloudWatch Logs);
* the function timeout is enforced here (LocalStack leaves that to its init binary): the
  process group is killed, the invocation fails with ``Sandbox.Timedout`` /
  "Task timed out after N.NN seconds", and the next invocation starts a fresh process;
* a process that exits mid-invocation fails it with ``Runtime.ExitError``; a process that
  exits or calls ``/runtime/init/error`` before asking for work fails the start-up
  (LocalStack turns that into an error result for the invocation that needed it).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import collections
import json
import logging
import os
import queue
import select
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import (
    FunctionVersion,
    InvocationResult,
)
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

LOG = logging.getLogger(__name__)

RUNTIME_API_PREFIX = "/2018-06-01/runtime"
HOST = "127.0.0.1"


class _Spawner:
    """Starts every ``bootstrap`` from one long-lived thread, with a parent-death signal.

    A function process must not outlive LocalStack (a killed LocalStack would leave them
    running, holding ports and polling dead endpoints), so each is started under
    ``setpriv --pdeathsig KILL``. Linux sends that signal when the *thread* that forked the
    child ends, not the process: spawning from LocalStack's short-lived invocation threads
    would kill functions with them, hence this one thread for the process's lifetime.
    Without ``setpriv`` (not util-linux) functions start without the signal, with a warning.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._setpriv = shutil.which("setpriv")
        if self._setpriv is None:
            LOG.warning("setpriv not found: function processes will not die with LocalStack")
        threading.Thread(target=self._run, name="lambda-host-spawner", daemon=True).start()

    def _run(self) -> None:
        while True:
            argv, kwargs, done = self._jobs.get()
            try:
                done.set_result(subprocess.Popen(argv, **kwargs))
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                done.set_exception(e)

    def popen(self, argv: list[str], **kwargs) -> subprocess.Popen:
        """``subprocess.Popen(argv, **kwargs)``, run on the spawner thread."""
        if self._setpriv is not None:
            argv = [self._setpriv, "--pdeathsig", "KILL", "--", *argv]
        done: Future = Future()
        self._jobs.put((argv, kwargs, done))
        return done.result()


SPAWNER = _Spawner()
# how long a stopped process gets between SIGTERM and SIGKILL
KILL_GRACE_SECONDS = 0.5
# output kept per environment for get_logs() (LocalStack prints it on start-up failures)
HISTORY_CHARS = 64 * 1024

_SIGNAL_NAMES = {
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGILL: "illegal instruction",
    signal.SIGFPE: "floating point exception",
    signal.SIGINT: "interrupt",
}


def _exit_description(returncode: int) -> str:
    """Go's ``exec.ExitError`` wording, as AWS prints it ("exit status 1", "signal: killed")."""
    if returncode < 0:
        sig = -returncode
        return f"signal: {_SIGNAL_NAMES.get(sig, str(sig))}"
    return f"exit status {returncode}"


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _gateway_host() -> str:
    host = config.GATEWAY_LISTEN[0].host
    if not host or host in ("0.0.0.0", "::", "[::]"):
        return HOST
    return host


class _Invocation:
    def __init__(self, body: dict, future: Future | None, timeout_s: float, client_context):
        self.request_id: str = body.get("invoke-id") or str(uuid.uuid4())
        self.payload: bytes = (body.get("payload") or "").encode()
        self.invoked_arn: str = body.get("invoked-function-arn") or ""
        self.trace_id: str = body.get("trace-id") or ""
        self.client_context: str | None = client_context
        self.future = future
        self.timeout_s = timeout_s
        self.started = time.perf_counter()
        self.deadline_ms = int(time.time() * 1000 + timeout_s * 1000)
        self.timer: threading.Timer | None = None
        self.handed_out = False
        self.done = False


class _Generation:
    """One ``bootstrap`` process and the Runtime API server it talks to."""

    def __init__(self, executor: HostRuntimeExecutor, number: int, ready: Future, request_id: str | None = None):
        self.executor = executor
        # request id for init-failure messages (known when a process is replaced before an invoke)
        self.request_hint = request_id or str(uuid.uuid4())
        self.number = number
        self.ready = ready  # resolved on the first /next, failed on init error / early exit
        self.cond = threading.Condition()
        self.pending: _Invocation | None = None  # waiting for /next
        self.current: _Invocation | None = None  # handed out, waiting for a result
        self.closed = False
        self.dead = False  # process gone (or being killed): the next invoke needs a new one
        self.proc: subprocess.Popen | None = None
        self.started_at = time.perf_counter()
        self.init_duration_ms: float | None = None
        self.reported_init = False
        # output capture
        self.log_lock = threading.Lock()
        self.window: list[str] = []  # output not yet attached to an invocation result
        self.eof = False
        self._fd: int | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        handler = type("BoundRuntimeApiHandler", (_RuntimeApiHandler,), {"generation": self})
        self.server = _RuntimeApiServer((HOST, 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._serve_thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"lambda-host-api-{executor.id[:8]}-{number}",
            daemon=True,
        )
        self._serve_thread.start()

    # --- process -----------------------------------------------------------------------
    def spawn(self, argv: list[str], env: dict[str, str], cwd: str) -> None:
        env = dict(env)
        env["AWS_LAMBDA_RUNTIME_API"] = f"{HOST}:{self.port}"
        self.proc = SPAWNER.popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: killpg reaches its children too
            close_fds=True,
        )
        self._fd = self.proc.stdout.fileno()
        os.set_blocking(self._fd, False)
        threading.Thread(target=self._read_loop, name=f"lambda-host-out-{self.proc.pid}", daemon=True).start()
        threading.Thread(target=self._wait_loop, name=f"lambda-host-wait-{self.proc.pid}", daemon=True).start()

    def kill(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:
            proc.kill()

    def terminate(self) -> None:
        """TERM the process group, KILL it if it lingers."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=KILL_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        # children that outlived the leader are still in its process group
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            LOG.warning("bootstrap process %s did not exit after SIGKILL", proc.pid)

    def _wait_loop(self) -> None:
        returncode = self.proc.wait()
        with self.cond:
            self.dead = True  # no new invocations for this process from now on
        # let the reader collect the last words of the process
        deadline = time.monotonic() + 0.5
        while not self.eof and time.monotonic() < deadline:
            time.sleep(0.01)
        self._on_exit(returncode)

    def _on_exit(self, returncode: int) -> None:
        reason = _exit_description(returncode)
        with self.cond:
            self.dead = True
            inv = self.current or self.pending
            unseen = inv is not None and not inv.done and not inv.handed_out and not self.closed
            if unseen:
                # the process died before it asked for this invocation: the function never saw
                # it, so it is run in a fresh process instead of failing
                self.pending = None
            self.cond.notify_all()
        if self.closed:
            return
        if unseen and self.ready.done():
            if inv.timer:
                inv.timer.cancel()
                inv.timer = None  # a referenced Thread keeps its stack mapped (Python 3.13+)
            LOG.debug("Lambda %s: idle bootstrap exited (%s); re-dispatching %s", self.executor.function_name, reason, inv.request_id)
            threading.Thread(target=self.executor.redispatch, args=(inv,), daemon=True).start()
            return
        if not self.ready.done():
            LOG.info(
                "Lambda %s: bootstrap (pid %s) exited during init: %s",
                self.executor.function_name,
                self.proc.pid,
                reason,
            )
            self._fail_startup(
                _error_payload("Runtime.ExitError", f"RequestId: {self.request_hint} Error: Runtime exited with error: {reason}")
            )
            return
        if inv is not None and not inv.done:
            message = f"RequestId: {inv.request_id} Error: Runtime exited with error: {reason}"
            self.finish(
                inv,
                _error_payload("Runtime.ExitError", message),
                is_error=True,
                extra_lines=[message, "Runtime.ExitError"],
                status="error",
                error_type="Runtime.ExitError",
            )
        else:
            LOG.debug("Lambda %s: idle bootstrap exited (%s); next invocation starts a new one", self.executor.function_name, reason)

    def _fail_startup(self, payload: bytes) -> None:
        output = self.take_window()
        if output.strip():
            LOG.info("Lambda %s init output:\n%s", self.executor.function_name, output.rstrip())
            self.executor.ship_logs(output)
        if not self.ready.done():
            try:
                self.ready.set_exception(StatusErrorException("Environment startup failed", payload=payload))
            except Exception:  # already resolved or cancelled concurrently
                pass

    # --- output capture ----------------------------------------------------------------
    def _read_loop(self) -> None:
        fd = self._fd
        while True:
            try:
                select.select([fd], [], [], 0.2)
            except (OSError, ValueError):
                break
            with self.log_lock:
                if self.eof:
                    break
                self._drain_locked()
                if self.eof:
                    break
        try:
            self.proc.stdout.close()
        except Exception:
            pass

    def _drain_locked(self) -> None:
        if self.eof or self._fd is None:
            return
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self.eof = True
                tail = self._decoder.decode(b"", final=True)
                if tail:
                    self._append_locked(tail)
                return
            self._append_locked(self._decoder.decode(chunk))

    def _append_locked(self, text: str) -> None:
        if not text:
            return
        self.window.append(text)
        self.executor.remember(text)

    def add_line(self, line: str) -> None:
        with self.log_lock:
            self._drain_locked()
            if self.window and not self.window[-1].endswith("\n"):
                self.window.append("\n")
            self.window.append(line + "\n")
            self.executor.remember(line + "\n")

    def take_window(self) -> str:
        with self.log_lock:
            self._drain_locked()
            text = "".join(self.window)
            self.window.clear()
        return text

    # --- invocation lifecycle -----------------------------------------------------------
    def submit(self, inv: _Invocation) -> bool:
        version = self.executor.function_version.id.qualifier
        with self.cond:
            if self.closed or self.dead:
                return False
            if self.pending is not None or (self.current is not None and not self.current.done):
                return False
            # START goes in before the runtime can see the invocation (and print anything)
            self.add_line(f"START RequestId: {inv.request_id} Version: {version}")
            self.pending = inv
            self.cond.notify_all()
        inv.timer = threading.Timer(inv.timeout_s, self._on_timeout, args=(inv,))
        inv.timer.daemon = True
        inv.timer.start()
        return True

    def next_invocation(self) -> _Invocation | None:
        """Blocks until there is work (the long poll behind GET /invocation/next)."""
        if not self.ready.done():
            if self.init_duration_ms is None:
                self.init_duration_ms = (time.perf_counter() - self.started_at) * 1000
            try:
                self.ready.set_result(True)
            except Exception:
                pass
        with self.cond:
            while self.pending is None and not self.closed and not self.dead:
                self.cond.wait(1.0)
            if self.pending is None:
                return None
            inv, self.pending = self.pending, None
            inv.handed_out = True
            self.current = inv
            return inv

    def _on_timeout(self, inv: _Invocation) -> None:
        with self.cond:
            if inv.done:
                return
            self.dead = True  # no reuse: the next invocation gets a fresh process
        message = f"RequestId: {inv.request_id} Error: Task timed out after {inv.timeout_s:.2f} seconds"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        # finish first (marks the invocation done), so the exit watcher does not report the
        # kill below as a Runtime.ExitError
        self.finish(
            inv,
            _error_payload("Sandbox.Timedout", message),
            is_error=True,
            extra_lines=[f"{stamp}Z {inv.request_id} Task timed out after {inv.timeout_s:.2f} seconds"],
            status="timeout",
        )
        self.kill()

    def finish(
        self,
        inv: _Invocation,
        payload: bytes,
        is_error: bool,
        extra_lines: list[str] | None = None,
        status: str | None = None,
        error_type: str | None = None,
    ) -> bool:
        with self.cond:
            if inv.done:
                return False
            inv.done = True
            if self.current is inv:
                self.current = None
            if self.pending is inv:
                self.pending = None
            self.cond.notify_all()
        if inv.timer:
            inv.timer.cancel()
            inv.timer = None  # a referenced Thread keeps its stack mapped (Python 3.13+)
        duration_ms = (time.perf_counter() - inv.started) * 1000
        for line in extra_lines or []:
            self.add_line(line)
        self.add_line(f"END RequestId: {inv.request_id}")
        self.add_line(self._report_line(inv, duration_ms, status, error_type))
        logs = self.take_window()
        result = InvocationResult(request_id=inv.request_id, payload=payload, is_error=is_error, logs=logs)
        if inv.future is not None and not inv.future.done():
            try:
                inv.future.set_result(result)
            except Exception:  # cancelled by a concurrent stop()
                pass
        return True

    def _report_line(self, inv: _Invocation, duration_ms: float, status, error_type) -> str:
        cfg = self.executor.function_version.config
        parts = [
            f"REPORT RequestId: {inv.request_id}",
            f"Duration: {duration_ms:.2f} ms",
            f"Billed Duration: {int(duration_ms) + 1} ms",
            f"Memory Size: {cfg.memory_size} MB",
        ]
        rss = self._max_rss_mb()
        if rss is not None:
            parts.append(f"Max Memory Used: {rss} MB")
        if self.init_duration_ms is not None and not self.reported_init:
            self.reported_init = True
            parts.append(f"Init Duration: {self.init_duration_ms:.2f} ms")
        if status:
            parts.append(f"Status: {status}")
        if error_type:
            parts.append(f"Error Type: {error_type}")
        return "\t".join(parts) + "\t"

    def _max_rss_mb(self) -> int | None:
        if self.proc is None:
            return None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return max(1, int(line.split()[1]) // 1024)
        except (OSError, ValueError, IndexError):
            return None
        return None

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.dead = True
            self.cond.notify_all()
        if not self.ready.done():
            self.ready.cancel()  # unblocks a start-up that is waiting for this process
        self.terminate()
        try:
            self.server.shutdown()
            self.server.server_close()
        except Exception as e:
            LOG.debug("Error closing runtime API server: %s", e)


class _RuntimeApiServer(ThreadingHTTPServer):
    """The Runtime API's server: a runtime that goes away mid-answer (its process was killed
    as its environment shut down) is expected, not an error worth a traceback."""

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            LOG.debug("runtime at %s went away before its answer was written", client_address)
            return
        super().handle_error(request, client_address)


class _RuntimeApiHandler(BaseHTTPRequestHandler):
    """Lambda Runtime API (2018-06-01) + the ``/invoke`` route of LocalStack's executor protocol."""

    generation: _Generation  # set on the per-generation subclass
    protocol_version = "HTTP/1.1"
    server_version = "localstack-host-executor"

    def log_message(self, format, *args):  # noqa: A002 - keep the request log out of stderr
        LOG.debug("runtime-api %s: " + format, self.generation.executor.id[:8], *args)

    # --- plumbing --------------------------------------------------------------------------
    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = bytearray()
            while True:
                size_line = self.rfile.readline().strip()
                size = int(size_line.split(b";")[0] or b"0", 16)
                if size == 0:
                    # trailers until the empty line
                    while self.rfile.readline().strip():
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _status(self, status: int, message: str = "") -> None:
        body = json.dumps({"status": "OK"} if status < 400 else {"errorMessage": message, "errorType": HTTPStatus(status).phrase}).encode()
        self._send(status, body)

    # --- routes ----------------------------------------------------------------------------
    def do_GET(self):
        if self.path.rstrip("/") == f"{RUNTIME_API_PREFIX}/invocation/next":
            inv = self.generation.next_invocation()
            if inv is None:
                # the environment is shutting down: the runtime will be killed anyway
                self._status(HTTPStatus.GONE, "environment is shutting down")
                return
            headers = {
                "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": inv.invoked_arn,
                "Lambda-Runtime-Trace-Id": inv.trace_id,
            }
            if inv.client_context:
                headers["Lambda-Runtime-Client-Context"] = inv.client_context
            try:
                self._send(HTTPStatus.OK, inv.payload, headers)
            except OSError as e:
                LOG.warning("Could not hand invocation %s to the runtime: %s", inv.request_id, e)
            return
        self._status(HTTPStatus.NOT_FOUND, f"unknown route GET {self.path}")

    def do_POST(self):
        path = self.path.rstrip("/")
        body = self._body()
        gen = self.generation
        if path == "/invoke":
            self._invoke(body)
            return
        if path == f"{RUNTIME_API_PREFIX}/init/error":
            self._status(HTTPStatus.ACCEPTED)
            error_type = self.headers.get("Lambda-Runtime-Function-Error-Type") or "Runtime.Unknown"
            payload = _normalise_error(body, error_type)
            LOG.info("Lambda %s: runtime reported an init error: %s", gen.executor.function_name, payload[:1000])
            gen._fail_startup(payload)
            with gen.cond:
                gen.dead = True
                gen.cond.notify_all()
            gen.kill()
            return
        prefix = f"{RUNTIME_API_PREFIX}/invocation/"
        if path.startswith(prefix):
            rest = path[len(prefix):]
            request_id, _, action = rest.rpartition("/")
            if action not in ("response", "error") or not request_id:
                self._status(HTTPStatus.NOT_FOUND, f"unknown route POST {self.path}")
                return
            with gen.cond:
                inv = gen.current
            if inv is None or inv.request_id != request_id or inv.done:
                self._status(HTTPStatus.BAD_REQUEST, f"invalid request id {request_id}")
                return
            if action == "response":
                gen.finish(inv, body, is_error=False)
            else:
                error_type = self.headers.get("Lambda-Runtime-Function-Error-Type") or "Unhandled"
                gen.finish(inv, _normalise_error(body, error_type), is_error=True)
            self._status(HTTPStatus.ACCEPTED)
            return
        self._status(HTTPStatus.NOT_FOUND, f"unknown route POST {self.path}")

    def _invoke(self, body: bytes) -> None:
        gen = self.generation
        executor = gen.executor
        try:
            request = json.loads(body)
        except ValueError:
            self._status(HTTPStatus.BAD_REQUEST, "invalid invoke payload")
            return
        inv = _Invocation(
            request,
            future=executor.executor_endpoint.invocation_future,
            timeout_s=float(executor.function_version.config.timeout or 3),
            client_context=executor.take_client_context(),
        )
        if not gen.submit(inv):
            if gen.dead and not gen.closed and inv.future is not None:
                # the process died between invocations (after invoke() checked on it): the
                # function never saw this invocation, so it runs in a fresh process, as on AWS
                LOG.debug("Lambda %s: bootstrap gone before %s; re-dispatching", executor.function_name, inv.request_id)
                threading.Thread(target=executor.redispatch, args=(inv,), daemon=True).start()
                self._status(HTTPStatus.ACCEPTED)
                return
            self._status(HTTPStatus.CONFLICT, "environment busy or gone")
            return
        self._status(HTTPStatus.ACCEPTED)


def _normalise_error(body: bytes, error_type: str) -> bytes:
    """Error payload as AWS returns it: the runtime's JSON, with ``errorType`` filled in."""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        if not parsed.get("errorType") and error_type:
            parsed["errorType"] = error_type
            return json.dumps(parsed).encode()
        return body
    message = body.decode(errors="replace") if body else ""
    return _error_payload(error_type, message)


def _decode_client_context(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return value


class HostRuntimeExecutor(RuntimeExecutor):
    """One execution environment = one host process (replaced after a timeout or crash)."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = ExecutorEndpoint(self.id, container_address=HOST)
        self._lock = threading.RLock()
        self._generation: _Generation | None = None
        self._generations = 0
        self._env: dict[str, str] | None = None
        self._code_dir: Path | None = None
        self._stopped = False
        self._history: collections.deque[str] = collections.deque()
        self._history_chars = 0
        self._history_lock = threading.Lock()
        self._client_context: str | None = None

    @property
    def function_name(self) -> str:
        return self.function_version.id.function_name

    # --- RuntimeExecutor contract ------------------------------------------------------
    def start(self, env_vars: dict[str, str]) -> None:
        self.executor_endpoint.start()
        self._code_dir = _code_dir(self.function_version)
        self._env = self._build_env(env_vars)
        with self._lock:
            if self._stopped:
                raise LambdaRuntimeException("environment stopped before it started")
            self._spawn(self.executor_endpoint.startup_future)
        self.executor_endpoint.wait_for_startup()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            gen, self._generation = self._generation, None
        if gen is not None:
            gen.close()
        try:
            self.executor_endpoint.shutdown()
        except Exception as e:
            LOG.debug("Error shutting down executor endpoint %s: %s", self.id, e)

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        with self._lock:
            gen = self._generation
            needs_new = gen is None or gen.dead
        if needs_new:
            result = self._restart(payload.get("invoke-id") or "")
            if result is not None:
                return result
        return self.executor_endpoint.invoke(payload)

    def get_address(self) -> str:
        return HOST

    def get_endpoint_from_executor(self) -> str:
        return _gateway_host()

    def get_runtime_endpoint(self) -> str:
        return f"http://{_gateway_host()}:{config.GATEWAY_LISTEN[0].port}{self.executor_endpoint.get_endpoint_prefix()}"

    def get_logs(self) -> str:
        with self._history_lock:
            return "".join(self._history)

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        code = function_version.config.code
        if code is None:
            raise LambdaRuntimeException(
                "The host executor runs zip-packaged functions only (no container images)"
            )
        code.prepare_for_execution()
        bootstrap = _bootstrap_inside(Path(code.get_unzipped_code_location()))
        if bootstrap is not None:
            _make_executable(bootstrap)

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        # LocalStack removes the unzipped code itself; processes die with their environments.
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        return True

    # --- helpers -----------------------------------------------------------------------
    def set_client_context(self, client_context: str | None) -> None:
        self._client_context = _decode_client_context(client_context)

    def take_client_context(self) -> str | None:
        value, self._client_context = self._client_context, None
        return value

    def remember(self, text: str) -> None:
        with self._history_lock:
            self._history.append(text)
            self._history_chars += len(text)
            while self._history_chars > HISTORY_CHARS and len(self._history) > 1:
                self._history_chars -= len(self._history.popleft())

    def ship_logs(self, text: str) -> None:
        """Put output that no InvocationResult carries (a failed init) into CloudWatch Logs."""
        env = self._env or {}
        group = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        stream = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        if not group or not stream or not text.strip():
            return

        def _put():
            try:
                from localstack.aws.connect import connect_to

                logs = connect_to(region_name=self.function_version.id.region).logs
                now = int(time.time() * 1000)
                events = [{"timestamp": now, "message": line + "\n"} for line in text.split("\n") if line]
                try:
                    logs.create_log_group(logGroupName=group)
                except logs.exceptions.ResourceAlreadyExistsException:
                    pass
                try:
                    logs.create_log_stream(logGroupName=group, logStreamName=stream)
                except logs.exceptions.ResourceAlreadyExistsException:
                    pass
                logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
            except Exception as e:
                LOG.debug("Could not ship init logs of %s: %s", self.function_name, e)

        threading.Thread(target=_put, name=f"lambda-host-initlogs-{self.id[:8]}", daemon=True).start()

    def _build_env(self, env_vars: dict[str, str]) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
        }
        # Nothing else of LocalStack's own environment: not HOME (the SDK would read the host
        # user's ~/.aws profiles), not its credentials or settings.
        env.update({k: str(v) for k, v in env_vars.items() if v is not None})
        code_dir = str(self._code_dir)
        env["LAMBDA_TASK_ROOT"] = code_dir
        if not config.LAMBDA_DISABLE_AWS_ENDPOINT_URL:
            env.setdefault("AWS_ENDPOINT_URL", f"http://{_gateway_host()}:{config.GATEWAY_LISTEN[0].port}")
        # not meaningful outside LocalStack's container init
        for key in ("LOCALSTACK_CHMOD_PATHS", "LOCALSTACK_USER"):
            env.pop(key, None)
        return env

    def _spawn(self, ready: Future, request_id: str | None = None) -> _Generation:
        """Start a new process generation (caller holds self._lock)."""
        self._generations += 1
        gen = _Generation(self, self._generations, ready, request_id)
        self._generation = gen
        self.executor_endpoint.container_address = HOST
        self.executor_endpoint.container_port = gen.port
        bootstrap = self._code_dir / "bootstrap"
        if not bootstrap.is_file():
            gen.dead = True
            gen._fail_startup(
                _error_payload(
                    "Runtime.InvalidEntrypoint",
                    f"RequestId: {gen.request_hint} Error: Couldn't find valid bootstrap(s): [{bootstrap}]",
                )
            )
            return gen
        contained = _bootstrap_inside(self._code_dir)
        if contained is None:
            gen.dead = True
            gen._fail_startup(
                _error_payload(
                    "Runtime.InvalidEntrypoint",
                    f"RequestId: {gen.request_hint} Error: bootstrap resolves outside the function's code "
                    f"({bootstrap} -> {bootstrap.resolve()}): refused",
                )
            )
            return gen
        bootstrap = contained
        _make_executable(bootstrap)
        try:
            gen.spawn([str(bootstrap)], self._env, str(self._code_dir))
        except OSError as e:
            gen.dead = True
            gen._fail_startup(
                _error_payload(
                    "Runtime.InvalidEntrypoint",
                    f"RequestId: {gen.request_hint} Error: fork/exec {bootstrap}: {e.strerror or e}",
                )
            )
            return gen
        LOG.debug(
            "Lambda %s: environment %s started bootstrap pid %s (generation %s, runtime API %s:%s)",
            self.function_name,
            self.id,
            gen.proc.pid,
            gen.number,
            HOST,
            gen.port,
        )
        return gen

    def redispatch(self, inv: _Invocation) -> None:
        """Run an invocation whose process died before picking it up in a fresh process."""

        def fail(payload: bytes) -> None:
            if inv.future is not None and not inv.future.done():
                try:
                    inv.future.set_result(InvocationResult(request_id=inv.request_id, payload=payload, is_error=True, logs=""))
                except Exception:
                    pass

        try:
            result = self._restart(inv.request_id)
        except Exception as e:  # noqa: BLE001 - stopped meanwhile
            fail(_error_payload("Runtime.Unknown", f"RequestId: {inv.request_id} Error: {e}"))
            return
        if result is not None:
            fail(result.payload)
            return
        with self._lock:
            gen = self._generation
        inv.started = time.perf_counter()
        inv.deadline_ms = int(time.time() * 1000 + inv.timeout_s * 1000)
        if gen is None or not gen.submit(inv):
            fail(_error_payload("Runtime.Unknown", f"RequestId: {inv.request_id} Error: runtime not available"))

    def _restart(self, request_id: str) -> InvocationResult | None:
        """Replace a dead process before an invocation; an error result if the new one fails to init."""
        with self._lock:
            if self._stopped:
                raise LambdaRuntimeException("environment stopped")
            old = self._generation
            ready: Future = Future()
            gen = self._spawn(ready, request_id)
        if old is not None:
            threading.Thread(target=old.close, daemon=True).start()
        try:
            ready.result(timeout=config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT)
            return None
        except StatusErrorException as e:
            return InvocationResult(request_id=request_id, payload=e.payload, is_error=True, logs="")
        except CancelledError as e:  # stop() while the new process was starting
            raise LambdaRuntimeException("environment stopped during start-up") from e
        except FutureTimeoutError:
            gen.kill()
            with gen.cond:
                gen.dead = True
            return InvocationResult(
                request_id=request_id,
                payload=_error_payload("Runtime.Unknown", f"RequestId: {request_id} Error: runtime did not start within {config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT} s"),
                is_error=True,
                logs=gen.take_window(),
            )


def _code_dir(function_version: FunctionVersion) -> Path:
    code = function_version.config.code
    if code is None:
        raise LambdaRuntimeException("The host executor runs zip-packaged functions only")
    return Path(code.get_unzipped_code_location())


def _bootstrap_inside(code_dir: Path) -> Path | None:
    """The real path of ``code_dir/bootstrap`` if it is a file inside ``code_dir``, else None.

    A zip may carry a symlink (``unzip`` restores it): one pointing elsewhere in the code is
    fine, one pointing out of it (``/usr/bin/…``, ``../../…``) would run, or chmod, a host
    file, so it is refused.
    """
    try:
        root = code_dir.resolve(strict=True)
        target = (code_dir / "bootstrap").resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return None
    if not target.is_relative_to(root) or not target.is_file():
        return None
    return target


def _make_executable(path: Path) -> None:
    try:
        mode = path.stat().st_mode
        wanted = mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
        if mode != wanted:
            path.chmod(wanted)
    except OSError as e:
        LOG.debug("Could not chmod %s: %s", path, e)


_PATCHED = False

# How often finished threads are dropped from LocalStack's shutdown list.
REAP_INTERVAL_S = 10.0


def _reap_finished_threads() -> None:
    """Drops finished threads from ``localstack.utils.threads.TMP_THREADS``, forever.

    LocalStack appends threads it starts to that list (for its shutdown hook) and never
    removes them; Step Functions adds several per execution (the execution, every state's
    task, every Map iteration and Parallel branch). Up to Python 3.12 a finished thread's
    stack was freed at once; since 3.13 threads are joinable and a finished one keeps its
    8 MB stack mapped until it is joined or its ``Thread`` object is freed. So the list held
    one stack per state ever run: after ~1,000 orders (~32,000 threads) LocalStack reached
    the kernel's limit of 65,530 memory maps per process (``vm.max_map_count``), could start
    no thread ("can't start new thread", ``MemoryError``) and stopped answering. Removing the
    finished ones (``list.remove`` is atomic, so a concurrent append is never lost) frees
    their stacks; the shutdown hook only ever needed the live ones.
    """
    from localstack.utils import threads

    while True:
        time.sleep(REAP_INTERVAL_S)
        try:
            _reap_once(threads.TMP_THREADS)
        except Exception:  # noqa: BLE001 - the reaper must outlive any surprise in the list
            LOG.exception("reaping LocalStack's finished threads failed; trying again later")


def _reap_once(tmp_threads: list) -> int:
    """One pass of :func:`_reap_finished_threads`; returns how many threads it dropped.

    The list also holds objects that are not threads (e.g. ``AdaptiveThreadPool``, which has
    no ``is_alive``: the first reaper died on one): only finished ``threading.Thread``s go.
    """
    dropped = 0
    for thread in list(tmp_threads):
        if isinstance(thread, threading.Thread) and not thread.is_alive():
            try:
                tmp_threads.remove(thread)
                dropped += 1
            except ValueError:
                pass  # removed by LocalStack's own cleanup meanwhile
    return dropped


def _cache_step_functions_json_paths() -> None:
    """Parse each Step Functions JSONPath once.

    LocalStack's Step Functions interpreter parses a path every time it evaluates one
    (``asl/utils/json_path.extract_json``, ``ResultPath``), and jsonpath_ng builds a whole PLY
    LALR parser for every parse (``write_tables=0``): 8-25 ms of CPU per path on these
    machines, several paths per state, all under LocalStack's one GIL. Ten checkouts at once
    saturated it: a Pass state took a second, a checkout two minutes (two tests timed out).
    A parsed path is an immutable expression tree (``find`` and ``update_or_create`` only read
    it), so one per distinct path string serves every execution.
    """
    import functools

    from localstack.services.stepfunctions.asl.component.common.path import result_path
    from localstack.services.stepfunctions.asl.utils import json_path

    for module in (json_path, result_path):
        if not hasattr(module.parse, "cache_info"):
            module.parse = functools.lru_cache(maxsize=4096)(module.parse)


def _cache_step_functions_definitions() -> None:
    """Parse each state machine definition once, and build its components per execution.

    LocalStack's Step Functions parses the whole definition with ANTLR's Python runtime at the
    start of every execution (``ExecutionWorker._get_evaluation_entrypoint``): in a profile of
    the 30-order soak that was a tenth of the time anyone held LocalStack's one GIL (the
    checkout's definition is ~40 states). The parse tree is only read afterwards (the
    preprocessor is a visitor that builds new components from it), so one tree per distinct
    definition serves every execution; the components, which executions evaluate, are still
    built fresh each time. A definition with syntax errors raises every time (exceptions are
    not cached).
    """
    import functools

    from localstack.services.stepfunctions.asl.parse import asl_parser
    from localstack.services.stepfunctions.asl.parse.preprocessor import Preprocessor

    parser_class = asl_parser.AmazonStateLanguageParser
    if hasattr(parser_class.parse, "tree_cache_info"):
        return
    original = parser_class.parse

    @functools.lru_cache(maxsize=64)
    def parse_tree(definition: str):
        return original(definition)[1]

    def parse(definition: str):
        tree = parse_tree(definition)
        return Preprocessor().visit(tree), tree

    parse.tree_cache_info = parse_tree.cache_info
    parser_class.parse = staticmethod(parse)


def _cache_step_functions_clients() -> None:
    """Give Step Functions' tasks one AWS client per (service, Region, role) instead of one per call.

    LocalStack's ``boto_client_for`` assumes the state machine's role and builds a client for
    every Task state it runs (a Lambda invoke, a DynamoDB write, an SQS send). Its
    ``ClientFactory`` caches clients, but the key holds the fresh session token and a merged
    ``Config`` (hashed by identity), so it never hits: every task built a botocore client,
    about a tenth of the GIL's time in the soak's profile. A botocore client is safe to share
    between threads; LocalStack does not enforce IAM, so the role's first credentials stay as
    good as the next ones. The pool is sized for the concurrent tasks of a test run.
    """
    from botocore.config import Config

    from localstack.services.stepfunctions.asl.utils import boto_client

    original = boto_client.boto_client_for
    if hasattr(original, "cached_clients"):
        return
    clients: dict = {}
    lock = threading.Lock()
    config = boto_client._BOTO_CLIENT_CONFIG.merge(Config(max_pool_connections=64))

    def boto_client_for(service, region, state_credentials):
        key = (service, region, state_credentials.role_arn)
        client = clients.get(key)
        if client is None:
            with lock:
                client = clients.get(key)
                if client is None:
                    try:
                        factory = boto_client.connect_to.with_assumed_role(
                            role_arn=state_credentials.role_arn,
                            service_principal=boto_client.ServicePrincipal.states,
                            region_name=region,
                            config=config,
                        )
                        client = factory.get_client(service=service)
                    except Exception as e:  # noqa: BLE001 - LocalStack's own way still works
                        LOG.warning("Step Functions client for %s built LocalStack's way: %r", service, e)
                        client = original(service=service, region=region, state_credentials=state_credentials)
                    clients[key] = client
        return client

    boto_client_for.cached_clients = clients
    boto_client.boto_client_for = boto_client_for
    # Modules that imported the function by name before this patch keep their own reference.
    for name, module in list(sys.modules.items()):
        if name.startswith("localstack.services.stepfunctions") and getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for


def install_patches() -> None:
    """Carry ``ClientContext`` to the executor (LocalStack's ExecutionEnvironment drops it
    from the invoke payload, and the Runtime API hands it to the function as a header), keep
    LocalStack's thread list from pinning every finished thread's stack
    (:func:`_reap_finished_threads`), and parse each Step Functions JSONPath and each state
    machine definition once and build its AWS clients once (:func:`_cache_step_functions_json_paths`,
    :func:`_cache_step_functions_definitions`, :func:`_cache_step_functions_clients`)."""
    global _PATCHED
    if _PATCHED:
        return
    threading.Thread(target=_reap_finished_threads, name="lambda-host-thread-reaper", daemon=True).start()
    # Speed-ups only: a LocalStack whose internals moved (e.g. the Python 3.11 fallback's
    # release) runs without the one that no longer fits, instead of losing the executor.
    for speed_up in (
        _cache_step_functions_json_paths,
        _cache_step_functions_definitions,
        _cache_step_functions_clients,
    ):
        try:
            speed_up()
        except Exception as e:  # noqa: BLE001 - any failure only means no speed-up
            LOG.warning("%s not applied to this LocalStack: %r", speed_up.__name__, e)
    from localstack.services.lambda_.invocation import execution_environment

    original = execution_environment.ExecutionEnvironment.invoke

    def invoke(self, invocation):
        if isinstance(self.runtime_executor, HostRuntimeExecutor):
            self.runtime_executor.set_client_context(invocation.client_context)
        return original(self, invocation)

    execution_environment.ExecutionEnvironment.invoke = invoke
    _PATCHED = True
