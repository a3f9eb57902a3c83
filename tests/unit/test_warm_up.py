"""Getting an execution environment ready ahead of its first pair, and renewed after a
SnapStart restore: the clients, the API key, the connection to the API."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from portrait_fusion.api.api_key import ApiKey, ApiKeyProvider
from portrait_fusion.api.fusion_call import new_session
from portrait_fusion.core.errors import ConfigurationError
from portrait_fusion.entry import handler
from portrait_fusion.entry.warm_up import WarmUp, preconnect


class CountingKeys(ApiKeyProvider):
    """An API key provider that counts its reads of the secret."""

    def __init__(self) -> None:
        super().__init__(lambda: None, "secret", max_age_seconds=300)  # type: ignore[arg-type,return-value]
        self.reads = 0

    def _read(self) -> ApiKey:
        self.reads += 1
        return ApiKey(f"key-{self.reads}")


@dataclass
class FakeClient:
    closed: int = 0

    def close(self) -> None:
        self.closed += 1


@dataclass
class Server:
    """A TCP server on 127.0.0.1 answering each HTTP request with an empty 200, counting
    the connections it accepts and the requests it reads."""

    listener: socket.socket
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def seen(self, connections: int, requests: int) -> tuple[int, int]:
        """The counts once they reach these (or after a few seconds): the server counts
        on its own threads, after the client has moved on."""
        with self.changed:
            self.changed.wait_for(
                lambda: self.connections >= connections and len(self.requests) >= requests,
                timeout=5,
            )
            return self.connections, len(self.requests)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/face-fusion"

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.changed:
                self.connections += 1
                self.changed.notify_all()
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        """Read whole requests (headers, then Content-Length bytes), answer each."""
        with conn, conn.makefile("rb") as stream:
            while head := _request_head(stream):
                stream.read(_content_length(head))
                with self.changed:
                    self.requests.append(head)
                    self.changed.notify_all()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


def _request_head(stream: Any) -> bytes:
    """A request's lines up to the blank one; empty at the end of the connection."""
    lines = []
    while (line := stream.readline()) not in (b"", b"\r\n"):
        lines.append(line)
    return b"".join(lines)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server(socket.create_server(("127.0.0.1", 0)))
    threading.Thread(target=running.serve, daemon=True).start()
    yield running
    running.listener.close()


def test_a_preconnected_session_sends_its_first_request_on_that_connection(
    server: Server,
) -> None:
    session = new_session()
    preconnect(session, server.url)
    # The connection is open and nothing was sent on it: the API saw no request.
    assert server.seen(1, 0) == (1, 0)
    session.post(server.url, data=b"x", timeout=5)
    session.post(server.url, data=b"y", timeout=5)
    assert server.seen(1, 2) == (1, 2)


def test_prepare_builds_every_client_and_connect_reads_the_key_and_connects(
    server: Server,
) -> None:
    built: list[str] = []
    steps = [lambda: built.append("s3"), lambda: built.append("images")]
    keys = CountingKeys()
    warm = WarmUp(steps, [], keys, new_session(), server.url)
    warm.prepare()
    assert (built, keys.reads, server.connections) == (["s3", "images"], 0, 0)
    warm.connect()
    assert (keys.reads, server.seen(1, 0)) == (1, (1, 0))


# In a fresh interpreter (this one imported Pillow long ago): what each step of the warm-up
# the object graph wires makes, in order, and when Pillow's plugins are loaded.
_STEPS_ALONE = """
import json, os, sys
from portrait_fusion.core.settings import Settings
from portrait_fusion.entry.bootstrap import build_app

made = []
for step in build_app(Settings.from_env(os.environ)).warm_up.steps:
    result = step()
    made.append([type(result).__name__, "PIL.JpegImagePlugin" in sys.modules])
print(json.dumps(made))
"""


def test_the_warm_up_makes_what_a_pair_needs_in_its_order_pillow_right_after_s3() -> None:
    """The image stack is really loaded ahead of the first pair (and into a snapshot):
    importing the modules that use it lazily would load nothing."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "PYTHONPATH": os.pathsep.join(sys.path),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "OUTPUT_BUCKET": "out",
        "API_KEY_SECRET_ID": "secret",
        "IDEMPOTENCY_TABLE": "table",
        "EVENT_BUS_NAME": "bus",
    }
    child = subprocess.run(
        [sys.executable, "-c", _STEPS_ALONE], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(child.stdout) == [
        ["S3", False],  # a pair lists and reads its inputs first
        ["NoneType", True],  # then preflight decodes them: Pillow and its plugins
        ["DynamoDB", True],  # beside its idempotency write (Powertools' layer)
        ["DynamoDBIdempotencyGuard", True],
        ["SecretsManager", True],  # the key, read ahead of the call
        ["SQS", True],  # the next message, pulled while the call is in flight
        ["EventBridge", True],  # the completion event
    ]


def test_renew_after_a_restore_drops_the_key_the_connections_and_the_random_state(
    server: Server,
) -> None:
    client = FakeClient()
    keys = CountingKeys()
    session = new_session()
    warm = WarmUp([lambda: client], [lambda: client], keys, session, server.url)
    warm.connect()
    random.seed(7)
    snapshot_draw = random.random()
    random.seed(7)  # every environment restored from one snapshot starts here
    warm.renew()
    assert random.random() != snapshot_draw
    assert client.closed == 1
    assert keys.get() == ApiKey("key-2")  # read again, not the snapshot's
    session.post(server.url, data=b"x", timeout=5)
    assert server.seen(2, 1) == (2, 1)  # the snapshot's connection was not reused


def test_a_failing_warm_up_is_left_for_the_first_pair_to_report() -> None:
    def broken() -> Any:
        raise RuntimeError("no credentials")

    warm = WarmUp([broken], [], CountingKeys(), new_session(), "http://127.0.0.1:9/x")
    warm.in_background().join(timeout=10)  # ends without raising anywhere


@dataclass
class RecordingWarmUp:
    calls: list[str] = field(default_factory=list)

    def prepare(self) -> None:
        self.calls.append("prepare")

    def connect(self) -> None:
        self.calls.append("connect")

    def in_background(self) -> None:
        self.calls.append("in_background")

    def after_restore(self) -> None:
        self.calls.append("after_restore")


@pytest.mark.parametrize(
    ("initialization_type", "calls"),
    [
        ("on-demand", ["in_background", "tracer"]),
        ("provisioned-concurrency", ["prepare", "connect", "tracer"]),
        ("snap-start", ["prepare", "tracer"]),
        (None, []),
    ],
)
def test_init_gets_ready_as_the_initialization_type_allows(
    monkeypatch: pytest.MonkeyPatch, initialization_type: str | None, calls: list[str]
) -> None:
    """... and builds the Tracer at init in every type, never on the first pair's path."""
    warm = RecordingWarmUp()
    monkeypatch.setattr(handler, "app", lambda: types.SimpleNamespace(warm_up=warm))
    monkeypatch.setattr(handler, "_traced", lambda: warm.calls.append("tracer"))
    hooks: list[Any] = []
    restore = types.ModuleType("snapshot_restore_py")
    restore.register_after_restore = hooks.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", restore)
    handler.init(initialization_type)
    assert warm.calls == calls
    # Under SnapStart the secret and connections are made after each restore, not before.
    assert hooks == ([warm.after_restore] if initialization_type == "snap-start" else [])


def test_init_with_a_bad_environment_leaves_the_error_to_the_first_invocation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def bad_environment() -> Any:
        raise ConfigurationError("OUTPUT_BUCKET is required")

    monkeypatch.setattr(handler, "app", bad_environment)
    handler.init("on-demand")  # no exception at init


_IMPORT_AS_LAMBDA = """
import json
from portrait_fusion.core import observability
from portrait_fusion.entry import handler  # Lambda's init: the module's import
built = handler._traced.cache_info().currsize == 1
tracer = observability.tracer()
print(json.dumps({"built_at_init": built, "tracer": type(tracer).__name__}))
"""


def test_in_lambda_the_tracer_is_built_at_init() -> None:
    """With tracing on (the template's `Tracing: Active`), the X-Ray SDK is imported and
    botocore and requests patched while the module loads, not on the first pair's path."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))},
        "PYTHONPATH": os.pathsep.join(sys.path),
        "LAMBDA_TASK_ROOT": str(Path.cwd()),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # the warm-up's reads fail at once
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
        "OUTPUT_BUCKET": "out",
        "API_KEY_SECRET_ID": "secret",
        "IDEMPOTENCY_TABLE": "table",
    }
    child = subprocess.run(
        [sys.executable, "-c", _IMPORT_AS_LAMBDA],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(child.stdout.splitlines()[-1]) == {"built_at_init": True, "tracer": "Tracer"}
