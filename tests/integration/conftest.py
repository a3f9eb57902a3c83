"""The handler, in this process, against moto's server and the face-fusion emulator (HTTPS).

The function's code is not patched: it reads its environment, talks to moto through
AWS_ENDPOINT_URL and to the emulator over TLS, exactly as it does in Lambda.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_stack.aws import LocalStack, MotoServer
from local_stack.emulator import FusionEmulator
from local_stack.esm import messages_to_delete
from local_stack.lambda_runtime import LambdaContext, sqs_event
from portrait_fusion.entry import handler
from tests.harness import Buckets, function_environment, notified_keys, provision_tier
from tests.settling import emulator_idle, queue_depth

# How long a delivery waits for the notifications and returning messages it expects: far
# more than S3 and SQS take, less than a hand-back's longest wait in this tier.
DELIVERY_WAIT_S = 20.0


@pytest.fixture(scope="session")
def stack(moto: MotoServer) -> LocalStack:
    return provision_tier(moto.endpoint_url, "integration", visibility_timeout=1)


@pytest.fixture
def buckets(stack: LocalStack) -> Buckets:
    return Buckets(stack)


@pytest.fixture
def configure(
    stack: LocalStack, emulator: FusionEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """Set the function's environment (with overrides) and start it cold."""

    def apply(**overrides: str) -> None:
        env = function_environment(stack, emulator.url, emulator.ca_bundle, **overrides)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        handler.reset()

    apply()
    yield apply
    handler.reset()


@pytest.fixture
def sqs(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Any:
    client = stack.client("sqs")
    # Start from an empty queue, including messages an earlier test handed back with a
    # visibility of their own: PurgeQueue, which moto (in this process) is told not to limit
    # to once a minute as SQS does; where it is limited, what is visible is drained.
    monkeypatch.setenv("MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR", "false")
    try:
        client.purge_queue(QueueUrl=stack.queue_url)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "AWS.SimpleQueueService.PurgeQueueInProgress":
            raise
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        got = client.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10)
        for message in got.get("Messages", []):
            client.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
        if not got.get("Messages") and not queue_depth(client, stack.queue_url):
            break
        time.sleep(0.1)
    return client


@pytest.fixture(autouse=True)
def healthy_emulator(emulator: FusionEmulator) -> Iterator[None]:
    emulator.reset()
    yield
    # Let calls still held by the emulator end, so they are not counted in the next test.
    emulator_idle(emulator)
    emulator.reset()


class Lambda:
    """Invokes the real handler in-process, with a Lambda-like context."""

    def __init__(self, stack: LocalStack, sqs: Any, buckets: Buckets) -> None:
        self.stack, self.sqs, self.buckets = stack, sqs, buckets
        self._handed_back: set[str] = set()

    def invoke(self, event: dict[str, Any], timeout_s: float = 120.0) -> Any:
        context = LambdaContext.create(timeout_s=timeout_s, memory_mb=512)
        return handler.lambda_handler(event, context)  # type: ignore[arg-type]

    def deliver(self, timeout_s: float = 120.0) -> dict[str, Any]:
        """Hand the queued messages to the handler as one SQS batch, like the event source
        mapping: the messages its delete rule is done with are deleted.

        Waits, as a client of SQS must, for the notifications of the test's uploads (S3 sends
        one a moment after PutObject returns) and for the messages it handed back earlier
        (they return when their visibility lapses): long polls, up to DELIVERY_WAIT_S."""
        messages = self._receive()
        response = self.invoke(sqs_event(messages, queue_arn=self.stack.queue_arn), timeout_s)
        done = messages_to_delete([m["MessageId"] for m in messages], response)
        for message in messages:
            if message["MessageId"] in done:
                self.sqs.delete_message(
                    QueueUrl=self.stack.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
            else:
                self._handed_back.add(message["MessageId"])
        response["messages"] = messages
        return response

    def _receive(self) -> list[dict[str, Any]]:
        awaited_keys = self.buckets.take_uploads()
        awaited_ids, self._handed_back = self._handed_back, set()
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while True:
            waiting = bool(awaited_keys or awaited_ids) and time.monotonic() < deadline
            got = self.sqs.receive_message(
                QueueUrl=self.stack.queue_url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                WaitTimeSeconds=1 if waiting else 0,
            ).get("Messages", [])
            if not got and not waiting:
                return messages
            for message in got:
                messages.append(message)
                awaited_ids.discard(message["MessageId"])
                named = notified_keys(message["Body"])
                match = next((key for key in awaited_keys if key in named), None)
                if match is not None:
                    awaited_keys.remove(match)


@pytest.fixture
def function(stack: LocalStack, sqs: Any, configure: Any, buckets: Buckets) -> Lambda:
    return Lambda(stack, sqs, buckets)
