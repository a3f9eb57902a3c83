"""The one API call an execution environment has in flight at a time.

The function's concurrency cap counts execution environments (README: "The API's concurrency
cap"); each lets one call through at a time, so calls never outnumber environments, even while
two pairs of one environment overlap their other work. Whoever feeds the environment its pairs
listens for the slot being taken: while a call is in flight is when the next pair should get
ready, so that it is waiting when the call ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class CallSlot:
    """A lock around each API call, with listeners told when it is taken."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the slot for one call (waiting for the call before it to end)."""
        with self._lock:
            with self._listeners_lock:
                listeners = list(self._listeners)
            for listener in listeners:
                listener()
            yield

    def busy(self) -> bool:
        """Whether a call is in flight right now."""
        return self._lock.locked()

    @contextmanager
    def listening(self, listener: Callable[[], None]) -> Iterator[None]:
        """Call `listener()` (quickly, holding no lock of its caller's) each time the slot is
        taken within the block."""
        with self._listeners_lock:
            self._listeners.append(listener)
        try:
            yield
        finally:
            with self._listeners_lock:
                self._listeners.remove(listener)
