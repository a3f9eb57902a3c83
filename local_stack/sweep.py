"""The partner-timeout sweep on the local stack: the template's PartnerSweepFunction, run in
an execution environment of its own on a timer, as its schedule runs it in AWS.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from local_stack.cfn import Template, to_text
from local_stack.lambda_runtime import ExecutionEnvironment, InvocationResult
from local_stack.running import Running

SWEEP_FUNCTION_ID = "PartnerSweepFunction"
SCHEDULE_EVENT_ID = "PartnerSweepSchedule"
SCHEDULE_PARAMETER = "PartnerSweepMinutes"

logger = logging.getLogger("local_stack.sweep")


@dataclass(frozen=True)
class SweepFunction:
    """What the template says of the sweep: its handler, time limit and schedule."""

    handler: str
    timeout_s: int
    memory_size_mb: int
    interval_s: float


def sweep_function(template: Template) -> SweepFunction:
    """Read the sweep's handler, timeout, memory and schedule out of ``template``."""
    properties = template.properties(SWEEP_FUNCTION_ID, "Handler", "Timeout", "MemorySize")
    minutes = float(template.parameters[SCHEDULE_PARAMETER])
    return SweepFunction(
        handler=to_text(properties["Handler"]),
        timeout_s=int(properties.get("Timeout", 3)),
        memory_size_mb=int(properties.get("MemorySize", 128)),
        interval_s=minutes * 60,
    )


class SweepTimer(Running):
    """Invokes the sweep every ``interval_s`` seconds in a worker process; a context manager.

    ``env`` is the sweep's environment (the function's, which holds every variable it reads).
    """

    def __init__(
        self,
        function: SweepFunction,
        *,
        env: Mapping[str, str],
        interval_s: float | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.interval_s = function.interval_s if interval_s is None else interval_s
        self._environment = ExecutionEnvironment(
            function.handler,
            env=env,
            function_name=SWEEP_FUNCTION_ID,
            timeout_s=function.timeout_s,
            memory_size_mb=function.memory_size_mb,
            log_file=log_file,
        )
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # one sweep at a time, as one environment serves one
        self._thread = threading.Thread(target=self._loop, name="partner-sweep", daemon=True)
        self.runs = 0

    def run_once(self) -> InvocationResult:
        """Sweep now (also what the timer does); the invocation's outcome."""
        with self._lock:
            invocation = self._environment.invoke({"source": "local.partner-sweep"})
            self.runs += 1
        if invocation.status != "success":
            logger.warning("partner sweep %s: %s", invocation.status, invocation.error)
        return invocation

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        self._environment.close()

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval_s):
            self.run_once()
