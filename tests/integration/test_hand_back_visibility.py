"""A handed-back message is given a visibility that fits its reason, on a queue shaped like
the template's (720 s visibility, 4 days' retention, 5 receives before the DLQ).

The visibility each message was given is read from moto's own record of the queue (the
in-process server's backend): SQS shows it through no API.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from local_stack.lambda_runtime import sqs_event
from tests import images
from tests.harness import Buckets, unique_pair
from tests.integration.test_aws_events import form, s3_record

QUEUE = "hand-back-check"
pytestmark = pytest.mark.moto_only(
    reason="a message's visibility is read from moto's own queue: SQS shows it through no API"
)


@pytest.fixture
def template_queue(stack: LocalStack) -> Any:
    sqs = stack.client("sqs")
    url = sqs.create_queue(
        QueueName=QUEUE,
        Attributes={
            "VisibilityTimeout": "720",
            "MessageRetentionPeriod": "345600",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": _dlq_arn(sqs, stack), "maxReceiveCount": "5"}
            ),
        },
    )["QueueUrl"]
    yield sqs, url
    sqs.delete_queue(QueueUrl=url)


def _dlq_arn(sqs: Any, stack: LocalStack) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=stack.dlq_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def seconds_until_visible(message_id: str) -> float:
    queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_queue(QUEUE)
    (message,) = [m for m in queue._messages if m.id == message_id]
    return float(message.visible_at) / 1000 - time.time()


def hand_back_a_pair(
    function: Any, buckets: Buckets, stack: LocalStack, template_queue: Any, name: str
) -> str:
    """Upload a pair, deliver its template's notification once, return the handed-back
    message's id (the emulator's faults decide why it is handed back)."""
    pair_id = unique_pair(name)
    buckets.upload(pair_id, "target", images.as_jpeg())
    key = buckets.upload(pair_id, "template", images.as_png(), "png")
    sqs, url = template_queue
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(s3_record(stack, form(key))))
    (message,) = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    response = function.invoke(sqs_event([message], queue_arn=arn["QueueArn"]))
    assert response["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
    return str(message["MessageId"])


def test_a_transient_fault_comes_back_in_seconds_not_after_the_queue_timeout(
    function: Any,
    buckets: Buckets,
    stack: LocalStack,
    emulator: FusionEmulator,
    template_queue: Any,
) -> None:
    emulator.set_faults(Faults(script=("ERROR_GATEWAY",) * 4))
    message_id = hand_back_a_pair(function, buckets, stack, template_queue, "transient")
    # first receive: 10 s backoff step, jittered to 5-10 s (the queue's own would be 720 s)
    assert 3 <= seconds_until_visible(message_id) <= 10


def test_an_operational_fault_waits_the_queue_timeout_and_longer_later(
    function: Any,
    buckets: Buckets,
    stack: LocalStack,
    emulator: FusionEmulator,
    template_queue: Any,
) -> None:
    emulator.set_faults(Faults(script=("ERROR_NOT_ENOUGH_CREDITS",) * 2))
    message_id = hand_back_a_pair(function, buckets, stack, template_queue, "no credits")
    assert 700 <= seconds_until_visible(message_id) <= 720
