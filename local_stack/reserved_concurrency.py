"""The function's reserved concurrency, shared by every way the local stack invokes it.

Lambda runs at most ``ReservedConcurrentExecutions`` environments of a function at once,
whatever invokes it. What happens to an invoke beyond that depends on the caller, and is
reproduced here:

- the SQS event source mapping waits for a free environment before taking a batch (Lambda's
  pollers back off when throttled);
- a synchronous invoke (an ad-hoc call, an S3 Batch Operations task) is refused at once with
  ``TooManyRequestsException``; Batch Operations retries it, as
  :meth:`LocalFunction.invoke_when_free` does;
- an asynchronous invoke (S3 or EventBridge notifications) is queued and retried until an
  environment is free, as Lambda's async queue does for throttled events.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from local_stack.lambda_runtime import ExecutionEnvironment, InvocationResult

THROTTLE_RETRY_S = 0.05


class TooManyRequestsError(RuntimeError):
    """Lambda's 429 for a synchronous invoke at the reserved concurrency."""


class ReservedConcurrency:
    """At most ``limit`` invocations at once; counts the peak and the throttles."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("reserved concurrency must be at least 1")
        self.limit = limit
        self._running = 0
        self.peak = 0
        self.throttles = 0
        self._lock = threading.Condition()

    def try_acquire(self) -> bool:
        """Take a slot if one is free; a refusal counts as a throttle."""
        with self._lock:
            if self._running >= self.limit:
                self.throttles += 1
                return False
            self._running += 1
            self.peak = max(self.peak, self._running)
            return True

    def acquire(self, stopping: threading.Event, poll_s: float = 0.2) -> bool:
        """Wait for a slot; False if ``stopping`` is set first."""
        with self._lock:
            while self._running >= self.limit:
                if stopping.is_set():
                    return False
                self._lock.wait(poll_s)
            self._running += 1
            self.peak = max(self.peak, self._running)
            return True

    def release(self) -> None:
        with self._lock:
            self._running -= 1
            self._lock.notify()


class LocalFunction:
    """Direct invokes of the function (ad hoc, Batch Operations, S3/EventBridge async),
    in a pool of execution environments capped by the shared reserved concurrency."""

    def __init__(self, reserved: ReservedConcurrency, environment: Mapping[str, Any]) -> None:
        """``environment`` holds :class:`ExecutionEnvironment`'s keyword arguments."""
        self._reserved = reserved
        self._environment = dict(environment)
        self._idle: queue.SimpleQueue[ExecutionEnvironment] = queue.SimpleQueue()
        self._all: list[ExecutionEnvironment] = []
        self._lock = threading.Lock()
        self._async: list[threading.Thread] = []

    def invoke(self, event: Any) -> InvocationResult:
        """A synchronous invoke: raises :class:`TooManyRequestsError` at the cap."""
        if not self._reserved.try_acquire():
            raise TooManyRequestsError("Rate Exceeded: reserved concurrency reached")
        try:
            with self._environment_for_call() as environment:
                return environment.invoke(event)
        finally:
            self._reserved.release()

    def invoke_async(self, event: Any) -> None:
        """An asynchronous invoke: accepted now, run when an environment is free."""
        thread = threading.Thread(target=self.invoke_when_free, args=(event,), daemon=True)
        self._async.append(thread)
        thread.start()

    def invoke_when_free(self, event: Any) -> InvocationResult:
        """An invoke retried while Lambda throttles it, as S3 Batch Operations and Lambda's
        async queue retry one."""
        while True:
            try:
                return self.invoke(event)
            except TooManyRequestsError:
                time.sleep(THROTTLE_RETRY_S)

    def wait_async(self, timeout_s: float) -> None:
        """Wait for the accepted asynchronous invokes to have run."""
        deadline = time.monotonic() + timeout_s
        for thread in self._async:
            thread.join(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        for environment in self._all:
            environment.close()

    @contextmanager
    def _environment_for_call(self) -> Iterator[ExecutionEnvironment]:
        try:
            environment = self._idle.get_nowait()
        except queue.Empty:
            environment = ExecutionEnvironment(**self._environment)
            with self._lock:
                self._all.append(environment)
        try:
            yield environment
        finally:
            self._idle.put(environment)
