"""Handing an SQS message back: set its visibility by reason (see `visibility`).

Lambda's event source mapping leaves a reported batch-item failure invisible for the queue's
whole visibility timeout; the function shortens (or lengthens) that itself with
ChangeMessageVisibility before it reports the failure. A message the function pulled itself
(`message_feed`) is handed back the same way, and simply not deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from portrait_fusion.core.errors import FusionError
from portrait_fusion.core.observability import logger
from portrait_fusion.entry.visibility import QueueLimits, VisibilityPolicy


class MessageQueue(Protocol):
    """The queue a message came from, as far as a hand-back needs it."""

    def limits(self, queue_arn: str) -> QueueLimits: ...

    def change_visibility(self, queue_arn: str, receipt_handle: str, seconds: int) -> None: ...


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
