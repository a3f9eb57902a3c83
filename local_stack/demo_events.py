"""The completion events ``make demo`` received on the local stack's events queue."""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from local_stack.aws import LocalStack
from local_stack.event_bus import by_pair, receive_events

POLL_INTERVAL_S = 0.25


def collect(
    stack: LocalStack, pair_ids: Collection[str], timeout_s: float = 10.0
) -> dict[str, list[dict[str, Any]]]:
    """The events about each pair, taken off the queue until every pair has one (or the
    time is up: an event follows its document by moments)."""
    if not stack.events_queue_url:
        return {}
    sqs: Any = stack.client("sqs")
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while True:
        received += receive_events(sqs, stack.events_queue_url)
        grouped = by_pair(received)
        if set(pair_ids) <= set(grouped) or time.monotonic() > deadline:
            return grouped
        time.sleep(POLL_INTERVAL_S)


def report(grouped: dict[str, list[dict[str, Any]]], pair_ids: Collection[str], out: Path) -> None:
    """Print one line per event, by pair, and keep them all in ``<out>/events.json``."""
    print("\nevents received (EventBridge rule -> local queue):")
    for pair_id in pair_ids:
        events = grouped.get(pair_id, [])
        if not events:
            print(f"  {pair_id:<20} none")
        for event in events:
            detail = event["detail"]
            code = (detail["error"] or {}).get("code", "")
            print(
                f"  {pair_id:<20} {event['detail-type']:<15} event_id {detail['event_id']}  "
                f"correlation_id {detail['correlation_id']}  {code}".rstrip()
            )
    everything = [event for pair_id in pair_ids for event in grouped.get(pair_id, [])]
    (out / "events.json").write_text(json.dumps(everything, indent=2) + "\n")
