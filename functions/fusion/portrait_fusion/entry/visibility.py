"""When a handed-back SQS message should come back: its new visibility timeout, by reason.

Without this every hand-back waits the queue's full visibility timeout (720 s), whether the
pair's other half is merely being worked on elsewhere or the account is out of credits.

The queue's own visibility timeout is the unit: it is how long a message may be away when
an invocation dies holding it, so a hand-back that expects to succeed soon never waits longer.

- A pair in progress elsewhere, or a message put back for lack of time: seconds.
- A transient fault (429, 5xx, timeout, S3 throttling): exponential backoff with jitter by
  receive count, up to the visibility timeout, so a burst of hand-backs does not return as one.
- An operational fault (no credits, a bad key): long waits, doubling from the visibility
  timeout, so the queue holds the pair while someone fixes the cause.
- `FusionError.retry_after`, when the cause says how long (a `Retry-After`, a spent budget),
  wins over the schedule.

Every delay stays under SQS's 12 h ceiling, and an operational wait is at most the retention
over `MaxReceiveCount`, so every delivery fits in the retention: a message reaches the DLQ
rather than expiring unseen.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from portrait_fusion.core.errors import Disposition, FusionError

MAX_VISIBILITY_SECONDS = 43_200  # SQS's ceiling for ChangeMessageVisibility
IN_PROGRESS_SECONDS = 5  # base wait for a pair busy elsewhere (plus up to as much jitter)
TRANSIENT_BASE_SECONDS = 10
_SOON = frozenset({"PAIR_IN_PROGRESS", "OUT_OF_TIME"})


@dataclass(frozen=True)
class QueueLimits:
    """What a queue allows a message: its visibility timeout, retention and deliveries before
    the DLQ."""

    visibility_timeout_seconds: int
    retention_seconds: int
    max_receive_count: int


class VisibilityPolicy:
    """Picks the visibility timeout of a message handed back with an error."""

    def __init__(self, jitter: Callable[[], float]) -> None:
        """`jitter()` returns a number in [0, 1) (`random.random` in production)."""
        self._jitter = jitter

    def delay_seconds(
        self, error: FusionError, receive_count: int, limits: QueueLimits, age_seconds: float
    ) -> int | None:
        """Seconds before the message should be seen again; None keeps the queue's default
        (a permanent error: the message is malformed and heads for the DLQ as it is)."""
        if error.disposition is Disposition.FAIL:
            return None
        attempt = max(1, receive_count)
        if error.retry_after is not None:
            wanted = error.retry_after
        elif error.code in _SOON:
            wanted = min(
                limits.visibility_timeout_seconds, IN_PROGRESS_SECONDS * (1 + self._jitter())
            )
        elif error.disposition is Disposition.RETRY:
            step = TRANSIENT_BASE_SECONDS * 2 ** (attempt - 1)
            ceiling = min(limits.visibility_timeout_seconds, step)
            wanted = ceiling * (0.5 + 0.5 * self._jitter())  # "equal jitter"
        else:
            step = limits.visibility_timeout_seconds * 2 ** (attempt - 1)
            wanted = min(_hold_cap(limits), step)
        # Come back while the message still lives: at most half of what it has left.
        left = limits.retention_seconds - age_seconds
        bounded = min(wanted, MAX_VISIBILITY_SECONDS, max(0.0, left / 2))
        return max(0, math.ceil(bounded))


def _hold_cap(limits: QueueLimits) -> float:
    """The longest single operational wait: all deliveries must fit in the retention."""
    return min(MAX_VISIBILITY_SECONDS, limits.retention_seconds / max(1, limits.max_receive_count))
