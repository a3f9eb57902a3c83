"""The handler pulls the queue's next message itself while its call is in flight (moto's SQS,
the HTTPS emulator): a pulled message that must come back is handed back, not deleted, and
completes on a later delivery."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from local_stack.lambda_runtime import sqs_event
from tests import images
from tests.harness import Buckets, unique_pair


@pytest.fixture
def long_visibility(stack: LocalStack, sqs: Any) -> Iterator[None]:
    """Messages stay invisible for longer than the invocation runs, as in the template."""
    sqs.set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": "30"})
    yield
    sqs.set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": "1"})


def receive_one(sqs: Any, stack: LocalStack, wait_s: int = 0) -> dict[str, Any]:
    got = sqs.receive_message(
        QueueUrl=stack.queue_url,
        MaxNumberOfMessages=1,
        MessageSystemAttributeNames=["All"],
        WaitTimeSeconds=wait_s,
    )
    (message,) = got["Messages"]
    return message


def test_a_pulled_message_that_must_come_back_is_handed_back_and_completes_later(
    configure: Any,
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    sqs: Any,
    stack: LocalStack,
    long_visibility: None,
) -> None:
    configure(API_MAX_ATTEMPTS="1")
    # Given two pairs, each with one message in the queue
    first, second = unique_pair("first"), unique_pair("second")
    for number, pair_id in enumerate((first, second)):
        buckets.upload(pair_id, "target", images.as_jpeg(size=(600 + number, 512)))
    for message in sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    for pair_id in (first, second):
        buckets.upload(pair_id, "template", images.as_png(), "png")
    # and an API that merges the first and is busy for the second
    emulator.set_faults(Faults(latency_ms=1000, script=("ok", "AI_SERVICE_FLOW_RESTRICTION")))
    batch = receive_one(sqs, stack)
    assert first in batch["Body"]
    # When an invocation gets the first pair's message (and pulls the second's itself)
    response = function.invoke(sqs_event([batch], queue_arn=stack.queue_arn))
    # Then the batch's message is done; the pulled one is neither reported nor deleted
    assert response["batchItemFailures"] == []
    assert buckets.document(first) is not None
    assert buckets.document(second) is None
    assert emulator.stats()["calls"] == 2
    # It comes back within seconds (a transient hand-back), pulled once already
    returned = receive_one(sqs, stack, wait_s=20)
    assert second in returned["Body"]
    assert returned["Attributes"]["ApproximateReceiveCount"] == "2"
    # And the next delivery completes it
    again = function.invoke(sqs_event([returned], queue_arn=stack.queue_arn))
    assert again["batchItemFailures"] == []
    assert buckets.document(second)["status"] == "succeeded"
    assert emulator.stats()["merges"] == 2
