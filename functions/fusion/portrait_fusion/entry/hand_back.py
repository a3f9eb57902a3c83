"""Handing an SQS message back: set its visibility by reason (see `visibility`).

Lambda's event source mapping leaves a reported batch-item failure invisible for the queue's
whole visibility timeout; the function shortens (or lengthens) that itself with
ChangeMessageVisibility before it reports the failure.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from portrait_fusion.core.errors import FusionError
from portrait_fusion.core.observability import logger
from portrait_fusion.entry.visibility import QueueLimits, VisibilityPolicy

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class MessageQueue(Protocol):
    """The queue a message came from, as far as a hand-back needs it."""

    def limits(self, queue_arn: str) -> QueueLimits: ...

    def change_visibility(self, queue_arn: str, receipt_handle: str, seconds: int) -> None: ...


def queue_url(queue_arn: str) -> str:
    """The queue URL an SQS ARN (`arn:aws:sqs:region:account:name`) stands for."""
    _, partition, _, region, account, name = queue_arn.split(":", 5)
    domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{domain}/{account}/{name}"


class SqsQueues:
    """`MessageQueue` over an SQS client; each queue's limits are read once."""

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


@dataclass(frozen=True)
class HandBack:
    """Sets a handed-back message's visibility from the error that sent it back."""

    queues: MessageQueue
    policy: VisibilityPolicy
    clock: Callable[[], float] = time.time

    def schedule(self, record: dict[str, Any], error: FusionError) -> int | None:
        """Change the message's visibility; return the seconds set (None: left as it was).

        Never raises: if the change fails, the message simply returns after the queue's
        visibility timeout, as it would have anyway.
        """
        attributes = record.get("attributes") or {}
        queue_arn = str(record.get("eventSourceARN", ""))
        try:
            limits = self.queues.limits(queue_arn)
            sent_ms = float(attributes.get("SentTimestamp") or self.clock() * 1000)
            seconds = self.policy.delay_seconds(
                error,
                int(attributes.get("ApproximateReceiveCount") or 1),
                limits,
                age_seconds=max(0.0, self.clock() - sent_ms / 1000),
            )
            if seconds is not None:
                self.queues.change_visibility(queue_arn, record["receiptHandle"], seconds)
        except (ClientError, BotoCoreError, KeyError, ValueError) as exc:
            logger.warning(
                "could not change the visibility of a handed-back message",
                extra={"message_id": record.get("messageId"), "reason": str(exc)},
            )
            return None
        return seconds
