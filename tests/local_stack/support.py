"""Helpers for the local stack's tests: throw-away queues, the handler's call log, waiting."""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.settling import queue_depth

HANDLER = "tests.local_stack.handlers.handle"
# The function timeout may not exceed it (Lambda refuses such a mapping): 2 s fits a test
# handler that sleeps 1.5 s.
VISIBILITY_TIMEOUT_S = 2
MAX_RECEIVE_COUNT = 2


@dataclass(frozen=True)
class ScratchQueues:
    """A queue with a 2 s visibility timeout whose messages go to ``dlq_url`` on the
    second failed delivery."""

    sqs: Any
    url: str
    dlq_url: str

    def send(self, *bodies: str) -> list[str]:
        """Send the bodies; their message ids."""
        return [
            self.sqs.send_message(QueueUrl=self.url, MessageBody=b)["MessageId"] for b in bodies
        ]

    def depth(self, url: str) -> int:
        """Messages in a queue, visible or in flight."""
        return queue_depth(self.sqs, url)


def read_calls(path: Path) -> list[dict[str, Any]]:
    """Every line the test handler wrote, in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def eventually(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Wait for ``condition`` to hold, failing the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s")
        time.sleep(0.05)
