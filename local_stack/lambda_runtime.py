"""A Lambda-like runtime: the context object, SQS events, and execution environments.

An :class:`ExecutionEnvironment` is what Lambda calls a sandbox: one long-lived worker
process with the function's environment that imports the handler once (cold start), then
serves invocations one at a time (warm) until it times out, crashes or is closed. The
context object and the SQS event builders are usable on their own, to invoke a handler
in-process (tests, benchmarks).

This module is imported by every worker process, so it stays free of boto3 and moto.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import json
import math
import multiprocessing
import os
import resource
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Literal, NamedTuple

from local_stack.account import ACCOUNT_ID, REGION

DEFAULT_HANDLER = "portrait_fusion.entry.handler.lambda_handler"
# Lambda allows 10 s of init; a loaded 2-core machine spawning several interpreters at
# once needs more slack, and a slow init is not what the local stack is there to catch.
INIT_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 5.0


@dataclass
class LambdaContext:
    """The context object Lambda's Python runtime passes to a handler.

    ``memory_limit_in_mb`` is a string, as in the real runtime (it forwards the
    environment variable), whatever type stubs say.
    """

    function_name: str
    memory_limit_in_mb: str
    invoked_function_arn: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: int
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None

    @classmethod
    def create(
        cls,
        function_name: str = "FusionFunction",
        *,
        timeout_s: float = 3.0,
        memory_mb: int = 128,
        region: str = REGION,
        log_stream_name: str | None = None,
    ) -> LambdaContext:
        """A context for one invocation starting now, with a fresh request id."""
        return cls(
            function_name=function_name,
            memory_limit_in_mb=str(memory_mb),
            invoked_function_arn=f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}",
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{function_name}",
            log_stream_name=log_stream_name or new_log_stream_name(),
            deadline_ms=_now_ms() + round(timeout_s * 1000),
        )

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation times out (never negative)."""
        return max(self.deadline_ms - _now_ms(), 0)


def new_log_stream_name() -> str:
    """A log stream name shaped like Lambda's: one per execution environment."""
    return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


def trace_header(*, sampled: bool) -> str:
    """An X-Ray trace header as Lambda puts it in `_X_AMZN_TRACE_ID` for each invocation.

    Lambda samples the first request each second and 5 % of the rest: an environment's first
    invocation is taken as sampled, the others not (the local stack has no X-Ray daemon; a
    sampled invocation's segments are sent where AWS_XRAY_DAEMON_ADDRESS says, if anywhere).
    """
    root = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    return f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled={int(sampled)}"


def sqs_message(body: str, *, receive_count: int = 1) -> dict[str, Any]:
    """A message shaped like ReceiveMessage's, to build an SQS event without a queue."""
    now = str(_now_ms())
    return {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": base64.b64encode(os.urandom(48)).decode(),
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 (SQS's checksum)
        "Body": body,
        "Attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": now,
            "SenderId": ACCOUNT_ID,
            "ApproximateFirstReceiveTimestamp": now,
        },
    }


def sqs_event(
    messages: Iterable[Mapping[str, Any]], *, queue_arn: str, region: str = REGION
) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping sends for ReceiveMessage messages."""
    return {"Records": [_sqs_record(m, queue_arn=queue_arn, region=region) for m in messages]}


def _sqs_record(message: Mapping[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """boto3's attribute shape to Lambda's: camelCase keys, binary as base64 text."""
    attribute: dict[str, Any] = {
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": [
            base64.b64encode(b).decode() for b in value.get("BinaryListValues", [])
        ],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Import ``package.module.function``, as Lambda does with the Handler setting."""
    module_name, _, function_name = handler.rpartition(".")
    function: Callable[[Any, Any], Any] = getattr(
        importlib.import_module(module_name), function_name
    )
    return function


Status = Literal["success", "error", "timeout", "crash"]


@dataclass(frozen=True)
class InvocationResult:
    """The outcome of one invocation, as the Lambda service sees it."""

    request_id: str
    status: Status
    response: Any  # the handler's return value after a JSON round trip, on success
    error: dict[str, Any] | None  # errorType, errorMessage, stackTrace on error
    duration_ms: float
    init_duration_ms: float | None  # set when this invocation paid for a cold start
    max_memory_used_mb: int | None  # peak RSS of the worker so far; None if it died


class _Reply(NamedTuple):
    status: Status
    response: Any
    error: dict[str, Any] | None
    max_memory_used_mb: int | None


class ExecutionEnvironment:
    """One Lambda execution environment: a worker process serving invocations serially.

    The process starts on the first :meth:`invoke` (cold start) with ``env`` on top of
    Lambda's reserved variables and this process' environment minus ``AWS_*`` (so a
    developer's real credentials never reach the function). It is killed when an
    invocation outlives ``timeout_s``, and replaced at the next invoke, as Lambda does.
    Its stdout and stderr go to ``log_file`` (appended) or to this process' stderr,
    unchanged; a ``platform.report`` JSON line per invocation goes to the same place.
    """

    def __init__(
        self,
        handler: str = DEFAULT_HANDLER,
        *,
        env: Mapping[str, str],
        function_name: str = "FusionFunction",
        timeout_s: float = 3.0,
        memory_size_mb: int = 128,
        region: str = REGION,
        log_file: Path | None = None,
    ) -> None:
        self.handler = handler
        self.function_name = function_name
        self.timeout_s = timeout_s
        self.memory_size_mb = memory_size_mb
        self.region = region
        self.log_file = log_file
        self._env = dict(env)
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._log_stream_name = ""

    def invoke(self, event: Any) -> InvocationResult:
        """Run the handler on ``event`` in the worker, starting one if there is none."""
        started = time.perf_counter()
        init_duration_ms = None
        reply = None
        if self._process is None:
            reply = self._start()
            init_duration_ms = (time.perf_counter() - started) * 1000
        context = LambdaContext.create(
            self.function_name,
            timeout_s=self.timeout_s,
            memory_mb=self.memory_size_mb,
            region=self.region,
            log_stream_name=self._log_stream_name,
        )
        invoked = time.perf_counter()
        reply = reply or self._call(event, context)
        invocation = InvocationResult(
            request_id=context.aws_request_id,
            status=reply.status,
            response=reply.response,
            error=reply.error,
            duration_ms=(time.perf_counter() - invoked) * 1000,
            init_duration_ms=init_duration_ms,
            max_memory_used_mb=reply.max_memory_used_mb,
        )
        self._report(invocation)
        return invocation

    def kill(self) -> None:
        """Kill the worker now, as Lambda ends a sandbox whose invocation timed out or ran out
        of memory; an invocation in flight ends as a crash, and the next invoke starts anew."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()

    def close(self) -> None:
        """Let the worker exit (killing it if it does not); the next invoke starts anew."""
        if self._process is None or self._conn is None:
            return
        with contextlib.suppress(OSError):  # already gone
            self._conn.send(None)
        self._process.join(CLOSE_TIMEOUT_S)
        self._discard()

    def _start(self) -> _Reply | None:
        """Start a worker and wait until the handler is imported; None if all went well."""
        spawn = multiprocessing.get_context("spawn")
        parent, child = spawn.Pipe()
        self._log_stream_name = new_log_stream_name()
        environ = (
            {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            | {
                "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_size_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": self._log_stream_name,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "_HANDLER": self.handler,
            }
            | self._env
        )
        self._process = spawn.Process(
            target=_serve,
            args=(child, self.handler, environ, self.log_file),
            name=f"lambda-{self.function_name}",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._conn = parent
        try:
            kind, payload = self._receive(INIT_TIMEOUT_S)
        except (TimeoutError, EOFError, OSError):
            kind, payload = "init_error", _error_payload("Runtime.InitError", "init failed")
        if kind == "ready":
            return None
        self._discard()
        return _Reply("error", None, payload, None)

    def _call(self, event: Any, context: LambdaContext) -> _Reply:
        assert self._conn is not None
        try:
            self._conn.send((event, context))
            kind, payload, max_memory_used_mb = self._receive(
                context.get_remaining_time_in_millis() / 1000
            )
        except TimeoutError:
            self._discard()
            text = f"Task timed out after {self.timeout_s:.2f} seconds"
            return _Reply("timeout", None, _error_payload("Sandbox.Timedout", text), None)
        except (EOFError, OSError):
            self._discard()
            return _Reply("crash", None, _error_payload("Runtime.ExitError", "worker died"), None)
        if kind == "success":
            return _Reply("success", json.loads(payload), None, max_memory_used_mb)
        return _Reply("error", None, payload, max_memory_used_mb)

    def _receive(self, timeout_s: float) -> Any:
        """The worker's next message.

        Raises TimeoutError when none comes within ``timeout_s``, EOFError when it died.
        """
        assert self._conn is not None and self._process is not None
        if not wait([self._conn, self._process.sentinel], timeout_s):
            raise TimeoutError
        if not self._conn.poll():  # only the process sentinel fired
            raise EOFError
        return self._conn.recv()

    def _discard(self) -> None:
        assert self._process is not None and self._conn is not None
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._conn.close()
        self._process, self._conn = None, None

    def _report(self, invocation: InvocationResult) -> None:
        """Lambda's ``platform.report`` line, in its JSON log format."""
        metrics: dict[str, Any] = {
            "durationMs": round(invocation.duration_ms, 3),
            "billedDurationMs": math.ceil(invocation.duration_ms),
            "memorySizeMB": self.memory_size_mb,
            "maxMemoryUsedMB": invocation.max_memory_used_mb,
        }
        if invocation.init_duration_ms is not None:
            metrics["initDurationMs"] = round(invocation.init_duration_ms, 3)
        line = json.dumps(
            {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "type": "platform.report",
                "record": {
                    "requestId": invocation.request_id,
                    "status": invocation.status,
                    "metrics": metrics,
                },
            }
        )
        if self.log_file is None:
            print(line, file=sys.stderr, flush=True)
        else:
            with self.log_file.open("a", encoding="utf-8") as log:
                log.write(line + "\n")


def _serve(conn: Connection, handler: str, environ: dict[str, str], log_file: Path | None) -> None:
    """The worker process: init (import the handler), then serve invocations until told."""
    # Ctrl-C reaches the whole process group; shutting down is the parent's decision.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _redirect_output(log_file)
    os.environ.clear()
    os.environ.update(environ)
    try:
        function = load_handler(handler)
    except Exception as exc:
        error = _exception_payload(exc, "Runtime.ImportModuleError")
        _log_error(error, request_id=None)
        conn.send(("init_error", error))
        return
    conn.send(("ready", None))
    sampled = True
    while (request := _next_request(conn)) is not None:
        event, context = request
        os.environ["_X_AMZN_TRACE_ID"] = trace_header(sampled=sampled)
        sampled = False
        try:
            response = json.dumps(function(event, context))
        except Exception as exc:  # the handler's failure is the invocation's outcome
            error = _exception_payload(exc)
            _log_error(error, request_id=context.aws_request_id)
            conn.send(("error", error, _max_rss_mb()))
        else:
            conn.send(("success", response, _max_rss_mb()))


def _next_request(conn: Connection) -> Any:
    try:
        return conn.recv()
    except EOFError:  # the parent is gone
        return None


def _redirect_output(log_file: Path | None) -> None:
    """Both streams to the log file or stderr, line by line, as Lambda captures both."""
    if log_file is not None:
        fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    os.dup2(2, 1)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]


def _log_error(error: dict[str, Any], *, request_id: str | None) -> None:
    """The runtime's own log line for an unhandled error, in Lambda's JSON log format."""
    record = {
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "level": "ERROR",
        "message": error["errorMessage"],
        "requestId": request_id,
        **error,
    }
    print(json.dumps(record), file=sys.stderr)


def _exception_payload(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    payload = _error_payload(error_type or type(exc).__name__, str(exc))
    payload["stackTrace"] = traceback.format_tb(exc.__traceback__)
    return payload


def _error_payload(error_type: str, message: str) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message}


def _max_rss_mb() -> int:
    """The worker's own peak RSS in MB (rounded up), as Lambda's maxMemoryUsedMB.

    VmHWM, not ru_maxrss: on Linux the latter starts from the parent's RSS at fork, so a
    worker spawned by a large process would report the parent's memory.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return -(-int(line.split()[1]) // 1024)  # KiB
    return -(-resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
