"""The messages one SQS invocation works on: its batch, then the queue's next ones, pulled by
the function itself while the API is busy.

Lambda's event source mapping reads nothing for an execution environment while it is busy
(it has no prefetch): left to it, an environment's API slot idles from its last call of a
batch until the mapping has deleted that batch, read the next one and invoked again, and a
burst ends with some environments still holding several pairs while others have none. So an
invocation keeps its slot busy itself: a worker with nothing in hand takes the queue's next
message (ReceiveMessage, one at a time) once this environment's API call is in flight, or
once nothing else is being worked on, and the invocation goes on until the queue has nothing
to give or too little time is left. The mapping's batch only wakes it. An environment holds
at most two pairs, one calling and one getting ready, which bounds how unevenly a burst ends.
It pulls only while the time left covers the call in flight and the pulled pair's own call,
each as long as the API timeout, and the outputs (`pull_threshold`): a pulled pair always
gets a whole attempt, and one that still runs out of time is handed back as any other.

A pulled message is the function's to settle, as the mapping settles the batch's: deleted
once done (merged, failed for good, skipped), handed back by reason otherwise (`hand_back`),
and left alone after a bug. It is pulled invisible for the queue's visibility timeout, as the
mapping's messages are, but never for longer than the invocation has left, so that after a
crash or a timeout it comes back once the invocation can no longer be working on it. Every
receive counts towards the queue's maxReceiveCount, so a message that keeps failing still
ends in the DLQ. A hand-back for a cause every pair shares (a spent budget, a bad key)
stops the pulling: the rest of the queue waits for the mapping's next delivery instead.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from portrait_fusion.api.call_slot import CallSlot
from portrait_fusion.core.observability import count, logger
from portrait_fusion.entry.visibility import QueueLimits
from portrait_fusion.pipeline.pipeline import OUTPUT_RESERVE_SECONDS

# Don't start another message (after the first) with less time than this left: hand it
# back instead. The first always runs: the API client itself stops within the time left.
MIN_SECONDS_TO_START = 10.0


def pull_threshold(api_timeout_seconds: float) -> float:
    """The least time left with which an invocation still pulls a message."""
    return max(MIN_SECONDS_TO_START, 2 * api_timeout_seconds + OUTPUT_RESERVE_SECONDS)


class PullQueue(Protocol):
    """The queue an invocation's messages come from, as the function pulls from it."""

    def limits(self, queue_arn: str) -> QueueLimits:
        """The queue's visibility timeout, retention and maxReceiveCount."""

    def receive(self, queue_arn: str, visibility_seconds: int) -> dict[str, Any] | None:
        """The next message as an SQS event record, invisible for that long; None if none."""

    def delete(self, queue_arn: str, receipt_handle: str) -> None:
        """Delete a message that is done with."""


class Settled(Enum):
    """What became of one message."""

    DONE = "done"  # processed: a pulled message is deleted
    RETRY = "retry"  # handed back with a visibility of its own
    HOLD = "hold"  # handed back for a cause every pair shares: pull no more
    LEFT = "left"  # a bug: left to come back when its visibility ends


@dataclass(frozen=True)
class Fed:
    """One message to work on, and where it came from."""

    record: dict[str, Any]
    pulled: bool  # pulled by the function (else from the mapping's batch)
    first: bool  # the invocation's first message, which always runs


class MessageFeed:
    """Hands the batch's messages, then pulled ones, to an invocation's workers."""

    def __init__(
        self,
        records: list[dict[str, Any]],
        queue: PullQueue | None,
        seconds_left: Callable[[], float],
        pull_seconds: float = MIN_SECONDS_TO_START,
    ) -> None:
        """`queue` None: only the batch (pulling is off, or the event names no queue); pull
        only with at least `pull_seconds` left."""
        self._records = deque(records)
        self._queue = queue
        self._queue_arn = str(records[0].get("eventSourceARN", "")) if records else ""
        self._seconds_left = seconds_left
        self._pull_seconds = pull_seconds
        self._changed = threading.Condition()
        self._working = 0  # workers holding a message, or pulling one
        self._calls = 0  # API calls this environment started since the feed began
        self._given = 0
        self._closed = queue is None or not self._queue_arn

    def call_started(self) -> None:
        """A `CallSlot` listener: this environment's API call is now in flight."""
        with self._changed:
            self._calls += 1
            self._changed.notify_all()

    def take(self, slot: CallSlot) -> Fed | None:
        """The next message to work on, waiting as long as pulling one now would be early;
        None when there is nothing more for this invocation."""
        with self._changed:
            if self._records:
                return self._give(self._records.popleft(), pulled=False)
            seen = self._calls
            while not self._closed and self._working and self._calls == seen and not slot.busy():
                self._changed.wait()
            if self._closed:
                return None
            self._working += 1  # pulling: the other worker waits for this one's call
        record, fed = None, None
        try:
            record = self._pull()
        finally:
            with self._changed:
                self._working -= 1
                if record is None:
                    self._closed = True
                    self._changed.notify_all()
                else:
                    fed = self._give(record, pulled=True)
        return fed

    def settle(self, fed: Fed, settled: Settled) -> None:
        """Close the books on a message a worker took."""
        try:
            if fed.pulled and settled is Settled.DONE:
                self._delete(fed.record)
        finally:
            with self._changed:
                self._working -= 1
                if settled is Settled.HOLD:
                    self._closed = True
                self._changed.notify_all()

    def _give(self, record: dict[str, Any], *, pulled: bool) -> Fed:
        self._working += 1
        self._given += 1
        return Fed(record, pulled=pulled, first=self._given == 1)

    def _pull(self) -> dict[str, Any] | None:
        assert self._queue is not None
        seconds = self._seconds_left()
        if seconds < self._pull_seconds:
            return None
        try:
            visibility = self._queue.limits(self._queue_arn).visibility_timeout_seconds
            record = self._queue.receive(self._queue_arn, min(visibility, math.ceil(seconds)))
        except Exception as exc:  # a denied or failed pull must not fail the batch
            logger.warning(
                "could not pull the queue's next message: the event source mapping delivers it",
                extra={"queue": self._queue_arn, "reason": f"{type(exc).__name__}: {exc}"},
            )
            return None
        if record is not None:
            count("MessagesPulled")
        return record

    def _delete(self, record: dict[str, Any]) -> None:
        assert self._queue is not None
        try:
            self._queue.delete(self._queue_arn, record["receiptHandle"])
        except Exception as exc:
            # It comes back when its visibility ends, and is found done (no second call).
            logger.warning(
                "could not delete a pulled message",
                extra={"message_id": record.get("messageId"), "reason": f"{type(exc).__name__}"},
            )
