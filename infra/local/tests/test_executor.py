"""End-to-end tests of the Lambda host executor against the LocalStack on 127.0.0.1:4566.

Run with infra/local/test.sh (starts nothing: LocalStack must be up, see infra/local/start.sh).
Every function uses tests/fixtures/bootstrap, a Python custom runtime whose behaviour is chosen
by the event ("action") and, for init failures, by the INIT_MODE environment variable.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
REGION = os.environ.get("AWS_REGION", "us-east-1")
FIXTURE = Path(__file__).parent / "fixtures" / "bootstrap"
ROLE = "arn:aws:iam::000000000000:role/lambda-host-executor-test"
RUN_ID = uuid.uuid4().hex[:8]


def _client(service: str):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        config=Config(read_timeout=120, retries={"max_attempts": 0}, max_pool_connections=20),
    )


@pytest.fixture(scope="session", autouse=True)
def localstack_up():
    try:
        health = requests.get(f"{ENDPOINT}/_localstack/health", timeout=3).json()
    except Exception as e:  # noqa: BLE001
        pytest.fail(
            f"LocalStack is not reachable at {ENDPOINT} ({e}). Start it with infra/local/start.sh",
            pytrace=False,
        )
    if health.get("services", {}).get("lambda") not in ("available", "running"):
        pytest.fail(f"LocalStack at {ENDPOINT} has no lambda service: {health}", pytrace=False)


@pytest.fixture(scope="session")
def lam():
    return _client("lambda")


@pytest.fixture(scope="session")
def logs():
    return _client("logs")


@pytest.fixture(scope="session")
def code_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("bootstrap")
        # deliberately not executable: the executor must chmod it (zip tools often drop modes)
        info.external_attr = 0o644 << 16
        zf.writestr(info, FIXTURE.read_bytes())
    return buf.getvalue()


@pytest.fixture
def make_function(lam, code_zip):
    created: list[str] = []

    def _make(suffix: str, timeout: int = 10, env: dict | None = None, code: bytes | None = None) -> str:
        name = f"hostexec-{RUN_ID}-{suffix}"
        lam.create_function(
            FunctionName=name,
            Runtime="provided.al2023",
            Handler="bootstrap",
            Role=ROLE,
            Code={"ZipFile": code or code_zip},
            Timeout=timeout,
            MemorySize=128,
            Environment={"Variables": env or {}},
        )
        created.append(name)
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        return name

    yield _make
    for name in created:
        try:
            lam.delete_function(FunctionName=name)
        except Exception:  # noqa: BLE001 - best-effort cleanup
            pass


def invoke(lam, name: str, event: dict, **kwargs) -> tuple[dict, dict, str]:
    """Returns (response, parsed payload, tail of the invocation's logs)."""
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail", **kwargs)
    payload = json.loads(resp["Payload"].read() or b"null")
    tail = base64.b64decode(resp.get("LogResult") or b"").decode(errors="replace")
    return resp, payload, tail


def wait_for_log(logs, name: str, needle: str, timeout: float = 15.0) -> str:
    group = f"/aws/lambda/{name}"
    deadline = time.time() + timeout
    seen = ""
    while time.time() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
            seen = "".join(e["message"] for e in events)
            if needle in seen:
                return seen
        except logs.exceptions.ResourceNotFoundException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{needle!r} not in CloudWatch Logs group {group} after {timeout}s; got:\n{seen}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is as good as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
def test_echo_sees_event_env_and_runtime_headers(lam, make_function):
    name = make_function("echo", timeout=7, env={"CUSTOM_VAR": "custom-value"})
    client_context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    before_ms = time.time() * 1000
    resp, body, tail = invoke(lam, name, {"action": "echo", "n": 1}, ClientContext=client_context)

    assert "FunctionError" not in resp, body
    assert body["event"] == {"action": "echo", "n": 1}
    env = body["env"]
    assert env["AWS_ENDPOINT_URL"] == ENDPOINT.rstrip("/")
    assert env["CUSTOM_VAR"] == "custom-value"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_REGION"] == REGION
    assert env["_HANDLER"] == "bootstrap"
    assert env["LAMBDA_TASK_ROOT"] == body["cwd"]
    assert env["HOME"] is None, "LocalStack's HOME (and its ~/.aws) is not passed on"
    assert body["function_arn"].endswith(f":function:{name}")
    assert body["trace_id"].startswith("Root=")
    assert json.loads(body["client_context"]) == {"custom": {"k": "v"}}
    # deadline = now + Timeout (7 s)
    assert before_ms + 5000 < int(body["deadline_ms"]) < before_ms + 9000
    assert f"START RequestId: {body['request_id']}" in tail
    assert f"REPORT RequestId: {body['request_id']}" in tail

    # the environment is reused (warm): same process, second invocation
    _, body2, _ = invoke(lam, name, {"action": "echo"})
    assert body2["pid"] == body["pid"]
    assert body2["invocations"] == 2


def test_timeout_fails_invocation_and_replaces_process(lam, logs, make_function):
    name = make_function("timeout", timeout=1)
    _, warm, _ = invoke(lam, name, {"action": "echo"})

    started = time.time()
    resp, body, tail = invoke(lam, name, {"action": "sleep", "seconds": 3})
    elapsed = time.time() - started
    assert resp.get("FunctionError") == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    assert elapsed < 2.5, f"timeout not enforced at 1 s (took {elapsed:.2f} s)"
    assert "Task timed out after 1.00 seconds" in tail

    # the timed-out process was killed; the next invocation runs in a fresh one
    assert not pid_alive(warm["pid"])
    resp, body, _ = invoke(lam, name, {"action": "echo"})
    assert "FunctionError" not in resp, body
    assert body["pid"] != warm["pid"]
    assert body["invocations"] == 1

    wait_for_log(logs, name, "Task timed out after 1.00 seconds")


def test_crash_is_runtime_exit_error_and_recovers(lam, make_function):
    name = make_function("crash")
    _, first, _ = invoke(lam, name, {"action": "echo"})

    resp, body, tail = invoke(lam, name, {"action": "crash", "code": 3})
    assert resp.get("FunctionError") == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 3" in body["errorMessage"]
    assert "about to crash" in tail

    resp, body, _ = invoke(lam, name, {"action": "echo"})
    assert "FunctionError" not in resp, body
    assert body["pid"] != first["pid"]
    assert body["invocations"] == 1


def test_process_that_exits_while_idle_is_replaced(lam, make_function):
    name = make_function("idle-exit")
    resp, first, _ = invoke(lam, name, {"action": "exit_after"})
    assert "FunctionError" not in resp, first
    # sent at once: it usually reaches the dying process, which never picks it up; the
    # executor must then run it in a fresh process instead of failing it
    resp, body, _ = invoke(lam, name, {"action": "echo"})
    assert "FunctionError" not in resp, body
    assert body["pid"] != first["pid"]
    assert body["invocations"] == 1


def test_function_error_keeps_error_type(lam, make_function):
    name = make_function("fnerror")
    resp, body, _ = invoke(lam, name, {"action": "error", "errorType": "PaymentDeclined"})
    assert resp.get("FunctionError") == "Unhandled"
    assert body == {"errorType": "PaymentDeclined", "errorMessage": "failed on purpose"}
    # a handled error does not cost the environment
    _, first, _ = invoke(lam, name, {"action": "echo"})
    _, again, _ = invoke(lam, name, {"action": "echo"})
    assert first["pid"] == again["pid"]


@pytest.mark.parametrize(
    "mode, error_type, message",
    [
        ("error", "Fixture.InitFailed", "init failed on purpose"),
        ("exit", "Runtime.ExitError", "Runtime exited with error: exit status 5"),
    ],
)
def test_init_failure_is_surfaced(lam, logs, make_function, mode, error_type, message):
    name = make_function(f"init-{mode}", env={"INIT_MODE": mode})
    for _ in range(2):  # every attempt re-runs init and fails the same way
        resp, body, _ = invoke(lam, name, {"action": "echo"})
        assert resp.get("FunctionError") == "Unhandled", body
        assert body["errorType"] == error_type
        assert message in body["errorMessage"]
    # what init printed is in CloudWatch Logs, although no invocation result carried it
    wait_for_log(logs, name, f"mode={mode}")


def test_missing_bootstrap_is_invalid_entrypoint(lam, make_function):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.txt", "no bootstrap here")
    name = make_function("nobootstrap", code=buf.getvalue())
    resp, body, _ = invoke(lam, name, {"action": "echo"})
    assert resp.get("FunctionError") == "Unhandled"
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert "Couldn't find valid bootstrap" in body["errorMessage"]


def test_concurrent_invocations_use_several_environments(lam, make_function):
    name = make_function("concurrent")
    sleep_s = 2.0
    n = 5
    started = time.time()
    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(lambda _: invoke(lam, name, {"action": "sleep", "seconds": sleep_s}), range(n)))
    elapsed = time.time() - started

    pids = set()
    for resp, body, _ in results:
        assert "FunctionError" not in resp, body
        pids.add(body["pid"])
    assert len(pids) == n, f"expected {n} environments, got pids {pids}"
    assert elapsed < 2 * sleep_s, f"{n} parallel {sleep_s}s invocations took {elapsed:.2f}s"

    # deleting the function stops its environments: every bootstrap process goes away
    lam.delete_function(FunctionName=name)
    deadline = time.time() + 10
    while time.time() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.2)
    assert not [p for p in pids if pid_alive(p)], "bootstrap processes survived delete_function"


def test_output_lands_in_cloudwatch_logs(lam, logs, make_function):
    name = make_function("logs")
    marker = f"marker-{uuid.uuid4().hex}"
    resp, body, tail = invoke(lam, name, {"action": "log", "lines": [marker, "second line"]})
    assert "FunctionError" not in resp, body
    assert marker in tail and f"stderr: {marker}" in tail

    seen = wait_for_log(logs, name, f"stderr: {marker}")
    assert marker in seen
    assert f"START RequestId: {body['request_id']}" in seen
    assert f"END RequestId: {body['request_id']}" in seen
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert streams and "[$LATEST]" in streams[0]["logStreamName"]


def _zip_with_symlink(target: str, extra: dict[str, bytes] | None = None) -> bytes:
    """A code zip whose ``bootstrap`` is a symlink to ``target`` (``unzip`` restores it)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        link = zipfile.ZipInfo("bootstrap")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, target)
        for name, data in (extra or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def test_bootstrap_symlink_out_of_the_code_is_refused(lam, make_function):
    true_mode = os.stat("/usr/bin/true").st_mode
    name = make_function("symlink-out", code=_zip_with_symlink("/usr/bin/true"))
    resp, body, _ = invoke(lam, name, {"action": "echo"})
    assert resp.get("FunctionError") == "Unhandled"
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert "resolves outside the function's code" in body["errorMessage"], body
    assert os.stat("/usr/bin/true").st_mode == true_mode, "the host file was not touched"


def test_bootstrap_symlink_within_the_code_runs(lam, make_function):
    code = _zip_with_symlink("bin/runtime", {"bin/runtime": FIXTURE.read_bytes()})
    name = make_function("symlink-in", code=code)
    resp, body, _ = invoke(lam, name, {"action": "echo"})
    assert "FunctionError" not in resp, body
    assert body["event"] == {"action": "echo"}


SPAWN_THEN_WAIT = """
import sys, threading, time
from localstack_host_executor.executor import SPAWNER
spawned = []
# from a thread that ends at once, as LocalStack's invocation threads do
worker = threading.Thread(target=lambda: spawned.append(SPAWNER.popen(["sleep", "120"])))
worker.start()
worker.join()
time.sleep(0.5)
print(spawned[0].pid, spawned[0].poll(), flush=True)
time.sleep(120)
"""


def test_function_processes_die_with_localstack_not_with_the_spawning_thread():
    parent = subprocess.Popen([sys.executable, "-c", SPAWN_THEN_WAIT], stdout=subprocess.PIPE, text=True)
    try:
        pid, status = parent.stdout.readline().split()
        child = int(pid)
        assert status == "None", "the child outlived the thread that asked for it"
        assert pid_alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.time() + 5
        while pid_alive(child) and time.time() < deadline:
            time.sleep(0.1)
        assert not pid_alive(child), "the function process outlived its parent"
    finally:
        parent.kill()


def _memory_maps() -> int:
    with open("/proc/self/maps") as maps:
        return sum(1 for _ in maps)


def test_finished_threads_leave_localstacks_thread_list_and_free_their_stacks():
    """LocalStack keeps every thread it starts in TMP_THREADS; on Python 3.13+ a finished thread
    that is still referenced keeps its stack mapped, which once ran LocalStack out of memory
    maps after ~1,000 checkouts. The executor's reaper drops the finished ones, and survives
    what else LocalStack puts in that list (an ``AdaptiveThreadPool``, without ``is_alive``,
    killed the first reaper before it dropped a single thread)."""
    import gc
    import threading

    from localstack.utils import threads
    from localstack_host_executor import executor

    class NotAThread:
        """What LocalStack's thread pools look like to the reaper: no ``is_alive``."""

    pool = NotAThread()
    threads.TMP_THREADS.append(pool)
    executor.REAP_INTERVAL_S = 0.1
    release = threading.Event()
    alive = threading.Thread(target=release.wait, daemon=True)
    alive.start()
    threads.TMP_THREADS.append(alive)
    before = _memory_maps()
    finished = []
    for _ in range(200):
        thread = threading.Thread(target=lambda: None)
        thread.start()
        threads.TMP_THREADS.append(thread)
        finished.append(thread)
    # Wait for them to end without joining them: a join would free their stacks by itself,
    # and LocalStack never joins its threads.
    deadline = time.time() + 10
    while any(t.is_alive() for t in finished) and time.time() < deadline:
        time.sleep(0.05)
    finished.clear()  # the list is now the only reference, as in LocalStack
    pinned = _memory_maps() - before
    assert pinned > 300, f"200 finished, unjoined threads pin their stacks ({pinned} maps)"
    threading.Thread(target=executor._reap_finished_threads, daemon=True).start()

    def finished_in_list():
        return [
            t for t in list(threads.TMP_THREADS) if isinstance(t, threading.Thread) and not t.is_alive()
        ]

    deadline = time.time() + 10
    while finished_in_list() and time.time() < deadline:
        time.sleep(0.1)
    gc.collect()
    assert not finished_in_list(), "finished threads are dropped"
    assert alive in threads.TMP_THREADS, "a running thread stays for the shutdown hook"
    assert pool in threads.TMP_THREADS, "what is not a thread is left alone"
    # 200 pinned stacks would be ~400 maps (stack + guard page each)
    assert _memory_maps() - before < 100
    release.set()
    threads.TMP_THREADS.remove(pool)


def test_step_functions_parse_each_json_path_once_and_still_evaluate_it_per_input():
    """LocalStack parsed every JSONPath on every evaluation (a PLY parser built per parse, under
    its one GIL); the executor's patch caches the parsed paths. The cached expression must give
    each input its own answer, and ResultPath must still write into the input it is given."""
    from localstack.services.stepfunctions.asl.component.common.path import result_path
    from localstack.services.stepfunctions.asl.utils import json_path
    from localstack_host_executor import executor

    executor._cache_step_functions_json_paths()
    executor._cache_step_functions_json_paths()  # idempotent: wrapped once
    assert not hasattr(json_path.parse.__wrapped__, "cache_info")

    hits = json_path.parse.cache_info().hits
    assert json_path.extract_json("$.order.total", {"order": {"total": 7}}) == 7
    assert json_path.extract_json("$.order.total", {"order": {"total": 9}}) == 9
    assert json_path.parse.cache_info().hits > hits, "the second evaluation reuses the parsed path"
    assert json_path.parse("$.order.total") is json_path.parse("$.order.total")
    with pytest.raises(json_path.NoSuchJsonPathError):
        json_path.extract_json("$.order.total", {"order": {}})
    assert json_path.extract_json("$.lines[*].sku", {"lines": [{"sku": "A"}, {"sku": "B"}]}) == ["A", "B"]

    first = result_path.parse("$.priced").update_or_create({"orderId": "o-1"}, {"total": 1})
    second = result_path.parse("$.priced").update_or_create({"orderId": "o-2"}, {"total": 2})
    assert first == {"orderId": "o-1", "priced": {"total": 1}}
    assert second == {"orderId": "o-2", "priced": {"total": 2}}


def test_step_functions_parse_each_definition_once_and_build_fresh_components_per_execution():
    """LocalStack parsed the whole definition with ANTLR at every execution's start; the
    executor's patch keeps the parse tree per definition. Each execution must still get
    components of its own, and a definition with a syntax error must fail every time."""
    import json

    from localstack.services.stepfunctions.asl.parse.asl_parser import (
        AmazonStateLanguageParser,
        ASLParserException,
    )
    from localstack_host_executor import executor

    executor._cache_step_functions_definitions()
    executor._cache_step_functions_definitions()  # idempotent: wrapped once
    parse = AmazonStateLanguageParser.parse
    definition = json.dumps(
        {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Result": {"n": 1}, "End": True}}}
    )
    misses = parse.tree_cache_info().misses
    first_program, first_tree = parse(definition)
    second_program, second_tree = parse(definition)
    assert parse.tree_cache_info().misses == misses + 1, "the second execution reuses the tree"
    assert second_tree is first_tree
    assert second_program is not first_program, "components are built per execution"
    assert type(second_program) is type(first_program)
    other = definition.replace('"n": 1', '"n": 2')
    assert parse(other)[1] is not first_tree, "another definition is parsed on its own"
    for _ in range(2):
        with pytest.raises(ASLParserException):
            parse('{"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "End": }}}')


def test_step_functions_tasks_share_one_client_per_service_region_and_role():
    """LocalStack built a botocore client for every Task state; the executor's patch keeps one
    per (service, Region, role). The modules that call it, imported before or after the
    patch, must all get the cached one, and another role or service gets a client of its own."""
    from localstack.services.stepfunctions.asl.component.state.state_execution.state_task import (
        lambda_eval_utils,
    )
    from localstack.services.stepfunctions.asl.component.state.state_execution.state_task.credentials import (
        StateCredentials,
    )
    from localstack.services.stepfunctions.asl.utils import boto_client
    from localstack_host_executor import executor

    executor._cache_step_functions_clients()
    executor._cache_step_functions_clients()  # idempotent: wrapped once
    from localstack.services.stepfunctions.asl.component.state.state_execution.state_task.service import (
        state_task_service_sqs,
    )

    for module in (lambda_eval_utils, state_task_service_sqs):
        assert module.boto_client_for is boto_client.boto_client_for
    role = StateCredentials(role_arn="arn:aws:iam::000000000000:role/checkout")
    other_role = StateCredentials(role_arn="arn:aws:iam::000000000000:role/cancel")
    first = boto_client.boto_client_for(service="lambda", region="us-east-1", state_credentials=role)
    again = boto_client.boto_client_for(service="lambda", region="us-east-1", state_credentials=role)
    assert again is first
    assert boto_client.boto_client_for(service="lambda", region="us-east-1", state_credentials=other_role) is not first
    assert boto_client.boto_client_for(service="sqs", region="us-east-1", state_credentials=role) is not first


def test_a_runtime_gone_mid_answer_is_no_traceback_but_other_errors_still_are(capsys):
    """A runtime killed while its environment shuts down breaks the pipe of the answer to its
    last ``/next``; that printed a traceback per environment at every ``make down``. Other
    errors of the Runtime API still print theirs."""
    from localstack_host_executor import executor

    server = executor._RuntimeApiServer(("127.0.0.1", 0), executor._RuntimeApiHandler)
    try:
        cases = (
            (BrokenPipeError(32, "Broken pipe"), False),
            (ConnectionResetError(), False),
            (ValueError("a bug"), True),
        )
        for error, printed in cases:
            try:
                raise error
            except Exception:
                server.handle_error(None, ("127.0.0.1", 1))
            err = capsys.readouterr().err
            assert ("Traceback" in err) is printed, (error, err)
    finally:
        server.server_close()
