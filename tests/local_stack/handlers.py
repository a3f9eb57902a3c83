"""Handlers the local stack's tests run in real worker processes.

Each message body says what to do (``ok``, ``fail``, ``raise``, ``exit``, ``bogus``,
``sleep:<s>``, ``sleep-once:<s>``); every call appends what it saw, as one JSON line, to
the file named by ``$CALLS_FILE`` before acting, so a test sees calls that never return.
:class:`Recorder` stands in for the Pair API function behind the local Pair API server.
"""

import json
import os
import time
from pathlib import Path
from typing import Any

from local_stack.lambda_runtime import LambdaContext


def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Act on each record's body; report ``fail`` records as batch item failures."""
    started = time.time()
    remaining_at_start = context.get_remaining_time_in_millis()
    _record(
        {
            "pid": os.getpid(),
            "started": started,
            "remaining_ms": remaining_at_start,
            "event": event,
            "context": {k: v for k, v in vars(context).items() if isinstance(v, str)},
            "environ": dict(os.environ),
        }
    )
    failures = []
    for record in event["Records"]:
        action, _, argument = record["body"].partition(":")
        first_delivery = record["attributes"]["ApproximateReceiveCount"] == "1"
        if action == "sleep" or (action == "sleep-once" and first_delivery):
            time.sleep(float(argument))
        elif action == "fail":
            failures.append({"itemIdentifier": record["messageId"]})
        elif action == "bogus":
            failures.append({"itemIdentifier": "not-in-this-batch"})
        elif action == "raise":
            raise RuntimeError("asked to raise")
        elif action == "exit":
            os._exit(3)
    _record(
        {
            "pid": os.getpid(),
            "finished": time.time(),
            "remaining_ms": context.get_remaining_time_in_millis(),
            "started": started,
            "remaining_at_start_ms": remaining_at_start,
        }
    )
    return {"batchItemFailures": failures}


def _record(entry: dict[str, Any]) -> None:
    with Path(os.environ["CALLS_FILE"]).open("a", encoding="utf-8") as calls:
        calls.write(json.dumps(entry) + "\n")


class Recorder:
    """A Pair API function run in the server's process: keeps every event it is called with
    and answers 200 with the event's route key."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"routeKey": event["routeKey"]}),
        }
