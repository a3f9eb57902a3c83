"""Handing a message back: its visibility set from the error, never a crash."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from portrait_fusion.core.errors import InvalidEventError, PairInProgressError, TransientApiError
from portrait_fusion.entry.hand_back import HandBack
from portrait_fusion.entry.sqs_queues import queue_url
from portrait_fusion.entry.visibility import QueueLimits, VisibilityPolicy

ARN = "arn:aws:sqs:eu-west-1:123456789012:fusion-queue"
NOW = 1_700_000_000.0


class FakeQueue:
    """A `MessageQueue` that records visibility changes (or fails them)."""

    def __init__(self, fail: bool = False) -> None:
        self.changes: list[tuple[str, str, int]] = []
        self.fail = fail

    def limits(self, queue_arn: str) -> QueueLimits:
        return QueueLimits(
            visibility_timeout_seconds=720, retention_seconds=345_600, max_receive_count=5
        )

    def change_visibility(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        if self.fail:
            raise ClientError({"Error": {"Code": "AccessDenied"}}, "ChangeMessageVisibility")
        self.changes.append((queue_arn, receipt_handle, seconds))


def record(receive_count: int = 1) -> dict[str, Any]:
    return {
        "messageId": "m1",
        "receiptHandle": "rh1",
        "eventSourceARN": ARN,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(int((NOW - 60) * 1000)),
        },
    }


def hand_back(queue: FakeQueue) -> HandBack:
    return HandBack(queue, VisibilityPolicy(lambda: 0.0), clock=lambda: NOW)


def test_the_visibility_follows_the_reason_and_receive_count() -> None:
    queue = FakeQueue()
    assert hand_back(queue).schedule(record(), PairInProgressError("busy")) == 5
    assert hand_back(queue).schedule(record(3), TransientApiError("429")) == 20
    assert queue.changes == [(ARN, "rh1", 5), (ARN, "rh1", 20)]


def test_a_permanent_error_leaves_the_visibility_alone() -> None:
    queue = FakeQueue()
    assert hand_back(queue).schedule(record(), InvalidEventError("bad")) is None
    assert queue.changes == []


def test_a_failed_change_is_logged_not_raised() -> None:
    assert hand_back(FakeQueue(fail=True)).schedule(record(), TransientApiError("x")) is None


def test_queue_url_from_arn() -> None:
    assert queue_url(ARN) == "https://sqs.eu-west-1.amazonaws.com/123456789012/fusion-queue"
