"""API Gateway's throttling: a token bucket per stage route settings.

The bucket holds up to ``burst`` tokens and gains ``rate`` tokens a second; a request takes
one, and finds none when the caller has gone faster than the rate for longer than the burst
allows: API Gateway's 429.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Thread-safe; starts full."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._refilled_at = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Take a token; False when there is none (the request is throttled)."""
        with self._lock:
            now = self._clock()
            elapsed = now - self._refilled_at
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
            self._refilled_at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True
