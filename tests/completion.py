"""Helpers for the completion-event tests: the published schema and the local events queue."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jsonschema

from local_stack.aws import LocalStack
from local_stack.event_bus import receive_events

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "completion-event.schema.json"


def completion_schema() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def assert_valid_event(event: dict[str, Any]) -> dict[str, Any]:
    """Validate a delivered event against schemas/completion-event.schema.json."""
    errors = sorted(completion_schema().iter_errors(event), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    return event


class EventLog:
    """Everything the stack's rule delivered to its local queue, kept per pair.

    The queue is shared by every test using the stack, so what is taken off it is kept
    here and looked up by pair id (each test uses its own).
    """

    def __init__(self, stack: LocalStack) -> None:
        assert stack.events_queue_url, "the stack has no event bus"
        self._url = stack.events_queue_url
        self.sqs = stack.client("sqs")
        self.raw_bodies: list[str] = []
        self._events: list[dict[str, Any]] = []

    def _take(self) -> None:
        for event in receive_events(self.sqs, self._url):
            self.raw_bodies.append(json.dumps(event))
            self._events.append(event)

    def for_pair(self, pair_id: str) -> list[dict[str, Any]]:
        """The events about ``pair_id`` received so far, oldest first."""
        self._take()
        return [e for e in self._events if e["detail"]["pair_id"] == pair_id]

    def wait_for(self, pair_id: str, count: int, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        """At least ``count`` events about ``pair_id`` (for a stack running in the background)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            events = self.for_pair(pair_id)
            if len(events) >= count:
                return events
            time.sleep(0.2)
        raise AssertionError(f"{len(self.for_pair(pair_id))} events for {pair_id}, wanted {count}")
