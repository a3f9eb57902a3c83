"""The Lambda invocation a pair runs in, and the pairs it has already run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from portrait_fusion.core.errors import FusionError
from portrait_fusion.pipeline.outcome import Outcome
from portrait_fusion.results.result_document import FunctionInfo


@dataclass
class _SharedRun:
    """One pair's outcome within an invocation, and the lock its halves queue on."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    result: Outcome | FusionError | None = None


@dataclass(frozen=True)
class Invocation:
    """The Lambda invocation a pair runs in: who it is and how much time is left."""

    function: FunctionInfo
    seconds_left: Callable[[], float]
    _runs: dict[tuple[str, ...], _SharedRun] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def shared_run(self, key: tuple[str, ...], run: Callable[[], Outcome]) -> Outcome:
        """Run `run` for the first caller of `key` in this invocation; every later caller
        (the pair's other half, perhaps on another thread) gets the same outcome, or the
        same error raised. A per-invocation memo: the idempotency guard spans invocations."""
        with self._lock:
            shared = self._runs.setdefault(key, _SharedRun())
        with shared.lock:
            if shared.result is None:
                try:
                    shared.result = run()
                except FusionError as exc:
                    shared.result = exc
        if isinstance(shared.result, FusionError):
            raise shared.result
        return shared.result
