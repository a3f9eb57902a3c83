"""An SQS invocation goes on with the queue's next messages, pulled by the function itself,
on in-memory fakes: when it pulls, what it deletes, what it hands back, when it stops."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from portrait_fusion.api.call_slot import CallSlot
from portrait_fusion.core.errors import OperationalApiError, TransientApiError
from portrait_fusion.entry.entrypoints import EntryPoints
from portrait_fusion.entry.hand_back import HandBack
from portrait_fusion.entry.message_feed import MIN_SECONDS_TO_START, pull_threshold
from portrait_fusion.entry.visibility import QueueLimits, VisibilityPolicy
from portrait_fusion.pipeline.invocation import Invocation
from portrait_fusion.pipeline.key_resolution import KeyResolver
from portrait_fusion.pipeline.pair_run import OUTPUT_RESERVE_SECONDS
from portrait_fusion.results.result_document import FunctionInfo
from tests.images import as_jpeg
from tests.unit.pipeline.fakes import World, world

QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:fusion"


@dataclass
class Clock:
    """The invocation's time left, which a test moves on."""

    left: float = 300.0

    def invocation(self) -> Invocation:
        return Invocation(FunctionInfo("fn", "$LATEST", "request-1"), lambda: self.left)


@dataclass
class FakeQueue:
    """The queue behind an invocation: hands out `waiting` one at a time, and records every
    receive (with whether an API call was in flight), delete and visibility change."""

    waiting: list[dict[str, Any]] = field(default_factory=list)
    slot: CallSlot | None = None
    clock: Clock | None = None
    left_after_receive: float | None = None  # time the receive itself uses up
    error: Exception | None = None
    visibility_timeout: int = 900
    receives: list[int] = field(default_factory=list)  # the visibility asked for
    busy_at_receive: list[bool] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    changes: list[tuple[str, int]] = field(default_factory=list)
    asked: threading.Event = field(default_factory=threading.Event)

    def limits(self, queue_arn: str) -> QueueLimits:
        assert queue_arn == QUEUE_ARN
        return QueueLimits(
            visibility_timeout_seconds=self.visibility_timeout,
            retention_seconds=345_600,
            max_receive_count=5,
        )

    def change_visibility(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        assert queue_arn == QUEUE_ARN
        self.changes.append((receipt_handle, seconds))

    def receive(self, queue_arn: str, visibility_seconds: int) -> dict[str, Any] | None:
        assert queue_arn == QUEUE_ARN
        self.receives.append(visibility_seconds)
        self.busy_at_receive.append(self.slot is not None and self.slot.busy())
        self.asked.set()
        if self.error is not None:
            raise self.error
        if self.clock is not None and self.left_after_receive is not None:
            self.clock.left = self.left_after_receive
        return self.waiting.pop(0) if self.waiting else None

    def delete(self, queue_arn: str, receipt_handle: str) -> None:
        assert queue_arn == QUEUE_ARN
        self.deleted.append(receipt_handle)


def _entrypoints(
    w: World,
    queue: FakeQueue,
    slot: CallSlot | None = None,
    pull_seconds: float = MIN_SECONDS_TO_START,
) -> EntryPoints:
    hand_back = HandBack(queue, VisibilityPolicy(lambda: 0.0), clock=lambda: 1_000.0)
    resolver = KeyResolver(w.storage, w.pipeline.naming)
    executor = ThreadPoolExecutor(max_workers=2)
    return EntryPoints(
        w.pipeline, executor, resolver, hand_back, queue, slot or CallSlot(), pull_seconds
    )


def _message(message_id: str, pair: str, body: str | None = None) -> dict[str, Any]:
    notification = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": "in"},
                    "object": {"key": f"incoming/{pair}/template.jpg", "size": 1},
                },
            }
        ]
    }
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": json.dumps(notification) if body is None else body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1000000"},
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
    }


def _pairs(w: World, *pairs: str) -> None:
    for pair in pairs:
        w.storage.put("in", f"incoming/{pair}/target.jpg", as_jpeg(size=(300, 300)))
        w.storage.put("in", f"incoming/{pair}/template.jpg", as_jpeg("grace_hopper.jpg"))


def _pair_ids(w: World) -> list[str]:
    return [json.loads(request.pair_key or "[]")[0] for request in w.api.calls]


def test_after_the_batch_the_queue_s_next_messages_are_pulled_merged_and_deleted() -> None:
    w = world()
    _pairs(w, "p1", "p2", "p3")
    queue = FakeQueue([_message("m2", "p2"), _message("m3", "p3")])
    event = {"Records": [_message("m1", "p1")]}
    answer = _entrypoints(w, queue).handle(event, Clock().invocation())
    # The batch's message is the mapping's to delete; the pulled ones are the function's.
    assert answer == {"batchItemFailures": []}
    assert sorted(_pair_ids(w)) == ["p1", "p2", "p3"]
    assert sorted(queue.deleted) == ["handle-m2", "handle-m3"]
    # One message at a time, then one more receive that found the queue empty.
    assert len(queue.receives) == 3
    assert queue.changes == []


def test_the_next_message_is_pulled_while_this_environment_s_call_is_in_flight() -> None:
    w, slot = world(), CallSlot()
    _pairs(w, *(f"p{i}" for i in range(1, 6)))
    queue = FakeQueue([_message(f"m{i}", f"p{i}") for i in range(2, 6)], slot=slot)
    w.api.slot = slot

    def call() -> None:
        """A call that lasts until the other worker has asked the queue for its next one."""
        queue.asked.wait(timeout=30)
        queue.asked.clear()

    w.api.during_call = call
    answer = _entrypoints(w, queue, slot).handle(
        {"Records": [_message("m1", "p1")]}, Clock().invocation()
    )
    assert answer == {"batchItemFailures": []}
    assert len(w.api.calls) == 5
    # Every message was asked for while a call was in flight: an environment holds at most
    # one pair calling and one getting ready.
    assert queue.busy_at_receive == [True] * 5


def test_a_pulled_message_is_invisible_for_the_queue_s_timeout_or_the_time_left() -> None:
    w = world()
    _pairs(w, "p1", "p2", "p3")
    # The queue's own visibility timeout (900 s) is longer than the invocation can run: a
    # crash or a timeout lets the message come back once nothing can be working on it.
    queue = FakeQueue([_message("m2", "p2")])
    _entrypoints(w, queue).handle({"Records": [_message("m1", "p1")]}, Clock(95.2).invocation())
    assert queue.receives[0] == 96
    # A queue that hides its messages for less time: as long as one the mapping delivers.
    queue = FakeQueue([_message("m3", "p3")], visibility_timeout=30)
    _entrypoints(w, queue).handle({"Records": [_message("m1", "p1")]}, Clock(95.2).invocation())
    assert queue.receives[0] == 30


def test_a_pulled_message_that_must_come_back_is_handed_back_not_deleted_nor_reported() -> None:
    w = world()
    _pairs(w, "p1", "p2")
    w.api.error = TransientApiError("rate limited", code="EXCEEDING_LIMITS")
    queue = FakeQueue([_message("m2", "p2")])
    answer = _entrypoints(w, queue).handle(
        {"Records": [_message("m1", "p1")]}, Clock().invocation()
    )
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert sorted(handle for handle, _ in queue.changes) == ["handle-m1", "handle-m2"]
    assert queue.deleted == []


def test_a_malformed_pulled_message_is_left_to_come_back_and_reach_the_dlq() -> None:
    w = world()
    _pairs(w, "p1")
    queue = FakeQueue([_message("m2", "p2", body="not json")])
    answer = _entrypoints(w, queue).handle(
        {"Records": [_message("m1", "p1")]}, Clock().invocation()
    )
    assert answer == {"batchItemFailures": []}
    # Not deleted, and its visibility left as pulled: each return counts a receive.
    assert queue.deleted == []
    assert queue.changes == []


def test_a_message_pulled_near_the_timeout_is_handed_back_when_its_turn_comes() -> None:
    w, clock = world(), Clock(MIN_SECONDS_TO_START + 1)
    _pairs(w, "p1", "p2")
    # Pulled with enough time left; by the time it could start, too little is left.
    queue = FakeQueue(
        [_message("m2", "p2")], clock=clock, left_after_receive=MIN_SECONDS_TO_START - 1
    )
    answer = _entrypoints(w, queue).handle({"Records": [_message("m1", "p1")]}, clock.invocation())
    assert answer == {"batchItemFailures": []}
    assert _pair_ids(w) == ["p1"]
    assert [handle for handle, _ in queue.changes] == ["handle-m2"]
    assert 0 < queue.changes[0][1] <= 10  # back within seconds, for the next invocation
    assert queue.deleted == []


def test_no_message_is_pulled_with_too_little_time_left() -> None:
    w = world()
    _pairs(w, "p1", "p2")
    queue = FakeQueue([_message("m2", "p2")])
    clock = Clock(MIN_SECONDS_TO_START - 1)
    answer = _entrypoints(w, queue).handle({"Records": [_message("m1", "p1")]}, clock.invocation())
    assert answer == {"batchItemFailures": []}  # the first message always runs
    assert _pair_ids(w) == ["p1"]
    assert queue.receives == []


def test_pulling_stops_while_the_time_left_still_covers_two_calls_and_the_outputs() -> None:
    # The call in flight and the pulled pair's own, each at the API timeout of 30 s.
    threshold = pull_threshold(30.0)
    assert threshold == 2 * 30.0 + OUTPUT_RESERVE_SECONDS
    assert pull_threshold(1.0) == MIN_SECONDS_TO_START
    for left, pulls in ((threshold - 1, 0), (threshold + 1, 2)):
        w = world()
        _pairs(w, "p1", "p2")
        queue = FakeQueue([_message("m2", "p2")])
        _entrypoints(w, queue, pull_seconds=threshold).handle(
            {"Records": [_message("m1", "p1")]}, Clock(left).invocation()
        )
        assert len(queue.receives) == pulls


def test_a_hand_back_every_pair_would_share_stops_the_pulling() -> None:
    w = world()
    _pairs(w, "p1", "p2")
    w.api.error = OperationalApiError("no credits left", code="ERROR_INSUFFICIENT_BALANCE")
    queue = FakeQueue([_message("m2", "p2")])
    answer = _entrypoints(w, queue).handle(
        {"Records": [_message("m1", "p1")]}, Clock().invocation()
    )
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert queue.receives == []  # m2 waits in the queue for the mapping's next delivery
    assert len(w.api.calls) == 1


def test_a_queue_that_cannot_be_pulled_from_leaves_the_batch_answered() -> None:
    w = world()
    _pairs(w, "p1")
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ReceiveMessage")
    queue = FakeQueue(error=denied)
    answer = _entrypoints(w, queue).handle(
        {"Records": [_message("m1", "p1")]}, Clock().invocation()
    )
    assert answer == {"batchItemFailures": []}
    assert len(queue.receives) == 1
    assert _pair_ids(w) == ["p1"]


def test_with_pulling_off_only_the_batch_is_worked_on() -> None:
    w = world()
    _pairs(w, "p1", "p2")
    queue = FakeQueue([_message("m2", "p2")])
    entrypoints = EntryPoints(
        w.pipeline,
        ThreadPoolExecutor(max_workers=2),
        KeyResolver(w.storage, w.pipeline.naming),
        HandBack(queue, VisibilityPolicy(lambda: 0.0)),
    )
    answer = entrypoints.handle({"Records": [_message("m1", "p1")]}, Clock().invocation())
    assert answer == {"batchItemFailures": []}
    assert queue.receives == []
    assert _pair_ids(w) == ["p1"]
