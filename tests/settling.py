"""Waiting for the local stack to go quiet: queues emptied and the emulator idle."""

from __future__ import annotations

import time
from typing import Any

from local_stack.emulator import FusionEmulator

IN_QUEUE = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")


def queue_depth(sqs: Any, url: str) -> int:
    """Messages in a queue, visible or in flight."""
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(IN_QUEUE))
    return sum(int(value) for value in attributes["Attributes"].values())


def emulator_idle(emulator: FusionEmulator, timeout_s: float = 10) -> dict[str, Any]:
    """The emulator's stats once no call is in flight (a held or reset call is counted when it
    ends), or after ``timeout_s`` if one never ends."""
    deadline = time.monotonic() + timeout_s
    while emulator.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)
    return emulator.stats()
