"""The function's SQS calls on the queue that invokes it: its limits, a hand-back's visibility,
and the next message pulled (and deleted) by the function itself (`message_feed`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from portrait_fusion.entry.visibility import QueueLimits

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def queue_url(queue_arn: str) -> str:
    """The queue URL an SQS ARN (`arn:aws:sqs:region:account:name`) stands for."""
    _, partition, _, region, account, name = queue_arn.split(":", 5)
    domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{domain}/{account}/{name}"


class SqsQueues:
    """`MessageQueue` and `PullQueue` over an SQS client; each queue's limits are read once."""

    def __init__(self, client_factory: Callable[[], SQSClient]) -> None:
        self._client_factory = client_factory
        self._limits: dict[str, QueueLimits] = {}
        self._lock = threading.Lock()

    def limits(self, queue_arn: str) -> QueueLimits:
        with self._lock:
            known = self._limits.get(queue_arn)
        if known is not None:
            return known
        attributes = self._client_factory().get_queue_attributes(
            QueueUrl=queue_url(queue_arn),
            AttributeNames=["VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy"],
        )["Attributes"]
        redrive: dict[str, Any] = {}
        if "RedrivePolicy" in attributes:
            redrive = json.loads(attributes["RedrivePolicy"])
        limits = QueueLimits(
            visibility_timeout_seconds=int(attributes.get("VisibilityTimeout", 30)),
            retention_seconds=int(attributes.get("MessageRetentionPeriod", 345_600)),
            max_receive_count=int(redrive.get("maxReceiveCount", 1)),
        )
        with self._lock:
            self._limits[queue_arn] = limits
        return limits

    def change_visibility(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        self._client_factory().change_message_visibility(
            QueueUrl=queue_url(queue_arn), ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )

    def receive(self, queue_arn: str, visibility_seconds: int) -> dict[str, Any] | None:
        """The queue's next message, invisible for `visibility_seconds`, as a record of
        Lambda's SQS event; None when the queue has none to give right now.

        A short poll: it answers at once, and may miss the last few messages of a queue
        (SQS samples some of its servers), which the event source mapping then delivers.
        Hand-backs read the two attributes asked for.
        """
        answer = self._client_factory().receive_message(
            QueueUrl=queue_url(queue_arn),
            MaxNumberOfMessages=1,
            VisibilityTimeout=visibility_seconds,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        )
        messages = answer.get("Messages") or []
        if not messages:
            return None
        message = messages[0]
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes") or {}),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
        }

    def delete(self, queue_arn: str, receipt_handle: str) -> None:
        """Delete a message the function pulled and is done with."""
        self._client_factory().delete_message(
            QueueUrl=queue_url(queue_arn), ReceiptHandle=receipt_handle
        )
