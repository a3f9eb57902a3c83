"""Thread-safe accounting of calls: what a test asserts billing and concurrency against."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from local_stack.emulator.validation import Fingerprint


@dataclass(frozen=True)
class LoggedCall:
    """One call as the API saw it: `time.monotonic()` at arrival and at its answer, and the
    HTTP status answered (0 for a reset connection)."""

    start: float
    end: float
    status: int


class Ledger:
    """Counts calls by outcome, billed answers, merges, duplicate merges and calls in flight.

    A duplicate is a successful merge of a (target sha256, template sha256, similarity)
    that was already merged successfully: a second bill for the same work. Once
    `keep_call_log()` is called, every call is also logged with its times (a benchmark draws
    the API's slots over time from it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._call_log: list[LoggedCall] | None = None
        self.reset()

    def keep_call_log(self) -> None:
        """Log every call from now on (until `reset`, which empties the log but keeps it on)."""
        with self._lock:
            if self._call_log is None:
                self._call_log = []

    def log_call(self, call: LoggedCall) -> None:
        """Add one finished call to the log, if the log is kept."""
        with self._lock:
            if self._call_log is not None:
                self._call_log.append(call)

    def call_log(self) -> list[LoggedCall]:
        """The calls logged since the last reset, in the order they were answered."""
        with self._lock:
            return list(self._call_log or [])

    def reset(self) -> None:
        """Forget everything counted so far (calls still in flight stay counted as such)."""
        with self._lock:
            self._by_outcome: Counter[str] = Counter()
            self._billed = 0
            self._merged: Counter[Fingerprint] = Counter()
            self._merges = 0
            self._duplicates = 0
            self._max_in_flight = self._in_flight
            if self._call_log is not None:
                self._call_log = []

    def admit(self, cap: int | None) -> bool:
        """Take an in-flight slot unless `cap` calls are already in flight."""
        with self._lock:
            if cap is not None and self._in_flight >= cap:
                return False
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            return True

    def release(self) -> None:
        """Give back a slot taken by `admit`."""
        with self._lock:
            self._in_flight -= 1

    def record(self, outcome: str, *, billed: bool = False) -> None:
        """Count one answered call under its outcome ("ok", an API code or a special one);
        `billed` when it was answered HTTP 200 (the API bills every 200, usable or not)."""
        with self._lock:
            self._by_outcome[outcome] += 1
            self._billed += billed

    def record_merge(self, fingerprint: Fingerprint) -> None:
        """Count one billed merge, and whether the same inputs were billed before."""
        with self._lock:
            self._merges += 1
            if fingerprint in self._merged:
                self._duplicates += 1
            self._merged[fingerprint] += 1

    def merges_by_inputs(self) -> dict[Fingerprint, int]:
        """Billed merges per (target sha256, template sha256, similarity): what a test
        checks each pair's outcome against."""
        with self._lock:
            return dict(self._merged)

    def snapshot(self) -> dict[str, Any]:
        """The counters as a JSON-ready dict."""
        with self._lock:
            return {
                "calls": sum(self._by_outcome.values()),
                "by_outcome": dict(self._by_outcome),
                "merges": self._merges,
                "billed": self._billed,
                "duplicates": self._duplicates,
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
            }
