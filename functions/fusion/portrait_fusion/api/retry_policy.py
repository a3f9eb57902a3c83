"""When another call is worth making: the provider's backoff, and its `Retry-After` guidance.

The provider's guide spaces retries of transient faults at about 1, 2, 4, 8 s and asks
clients to respect server retry guidance; each delay here is that step, jittered by up to a
fifth either way so that many pairs failing together do not retry together.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 8.0
JITTER_SHARE = 0.2


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: about 1, 2, 4, 8, 8, ... seconds."""

    base_seconds: float = BACKOFF_BASE_SECONDS
    cap_seconds: float = BACKOFF_CAP_SECONDS
    jitter_share: float = JITTER_SHARE

    def delay(self, failures: int, jitter: float) -> float:
        """The wait after the `failures`-th failed call (1-based); `jitter` is in [0, 1)."""
        step = min(self.cap_seconds, self.base_seconds * 2.0 ** (failures - 1))
        return step * (1 - self.jitter_share + 2 * self.jitter_share * jitter)


def parse_retry_after(
    value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> float | None:
    """Seconds a `Retry-After` header asks to wait (delay-seconds or an HTTP date), or None
    when there is no header or it cannot be read. A date in the past means "now" (0)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is read as such
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - now()).total_seconds()
    return max(0.0, math.ceil(seconds * 1000) / 1000)
