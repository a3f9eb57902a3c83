"""Completion events: one EventBridge event per terminal outcome of a pair.

The event points at the result document; it never carries image bytes or the API key.
Publishing is retried and counted, and never raises: a pair whose result is stored must not
be handed back (and billed again) because the bus was unreachable.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from portrait_fusion.aws.storage import ObjectRef
from portrait_fusion.core.observability import count, logger

SOURCE = "portrait-fusion"
SCHEMA_VERSION = 1
PARTNER_MISSING = "ERROR_PARTNER_MISSING"
_PUBLISH_TRIES = 3


class DetailType(StrEnum):
    """The event's `detail-type`: what became of the pair."""

    SUCCEEDED = "Pair Succeeded"
    FAILED = "Pair Failed"
    EXPIRED = "Pair Expired"  # one half waited longer than PartnerTimeoutMinutes


@dataclass(frozen=True)
class CompletionEvent:
    """One outcome, ready to put on a bus."""

    detail_type: DetailType
    detail: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.detail["event_id"])


class EventPublisher(Protocol):
    """Tells subscribers that a pair reached a terminal outcome."""

    def publish(self, event: CompletionEvent) -> bool:
        """Deliver `event` (retrying); True once the bus took it. Never raises."""


class NoEvents:
    """The publisher when `EVENT_BUS_NAME` is empty: events are off."""

    def publish(self, event: CompletionEvent) -> bool:
        del event
        return False


def completion_event(document: dict[str, Any], stored: ObjectRef) -> CompletionEvent:
    """The event for a stored result document; `stored` is where it went (its result.json,
    and the version the write gave it: a later merge of the pair writes another version, and
    the event must go on naming this document)."""
    error = document.get("error")
    if document["status"] == "succeeded":
        detail_type = DetailType.SUCCEEDED
    elif error and error["code"] == PARTNER_MISSING:
        detail_type = DetailType.EXPIRED
    else:
        detail_type = DetailType.FAILED
    result = document.get("result")
    detail = {
        "schema_version": SCHEMA_VERSION,
        "event_id": _event_id(detail_type, document),
        "pair_id": document["pair_id"],
        "status": document["status"],
        "document": {"bucket": stored.bucket, "key": stored.key, "version_id": stored.version_id},
        "result": (
            {
                "bucket": result["bucket"],
                "key": result["key"],
                "version_id": result["version_id"],
                "content_type": result["content_type"],
            }
            if result
            else None
        ),
        "error": (
            {"code": error["code"], "stage": error["stage"], "message": error["message"]}
            if error
            else None
        ),
        "correlation_id": document.get("correlation_id"),
        "finished_at": document["finished_at"],
    }
    return CompletionEvent(detail_type, detail)


def _event_id(detail_type: DetailType, document: dict[str, Any]) -> str:
    """The same for every delivery of one outcome: derived from what the outcome is about
    (the pair, both inputs' versions, the outcome and its error code), not from time."""
    inputs = document["inputs"]
    identity = {
        "pair_id": document["pair_id"],
        "detail_type": detail_type.value,
        "inputs": {
            role: [
                inputs[role]["bucket"],
                inputs[role]["key"],
                inputs[role]["etag"],
                inputs[role]["version_id"],
            ]
            for role in ("target", "template")
        },
        "error": (document.get("error") or {}).get("code"),
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return digest[:32]


class EventsClient(Protocol):
    """The part of boto3's EventBridge client the publisher uses."""

    def put_events(self, *, Entries: list[dict[str, Any]]) -> Any: ...


class EventBridgePublisher:
    """`EventPublisher` on an EventBridge bus."""

    def __init__(
        self,
        client_factory: Callable[[], EventsClient],
        bus_name: str,
        *,
        tries: int = _PUBLISH_TRIES,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client_factory = client_factory
        self._bus_name = bus_name
        self._tries = tries
        self._pause = pause

    def publish(self, event: CompletionEvent) -> bool:
        # The same entry on every try, so a consumer sees one event_id however often the bus
        # ends up delivering it.
        entry = {
            "EventBusName": self._bus_name,
            "Source": SOURCE,
            "DetailType": event.detail_type.value,
            "Detail": json.dumps(event.detail, ensure_ascii=False),
        }
        problem = ""
        for attempt in range(1, self._tries + 1):
            if attempt > 1:
                count("EventPublishRetries")
                self._pause(0.2 * 2 ** (attempt - 1))
            try:
                response = self._client_factory().put_events(Entries=[entry])
                failed = response.get("Entries", [{}])[0]
                if not response.get("FailedEntryCount") and "ErrorCode" not in failed:
                    count("EventsPublished")
                    return True
                problem = f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}"
            except (ClientError, BotoCoreError) as exc:
                problem = type(exc).__name__
        count("EventsPublishFailed")
        logger.error(
            "completion event not published",
            extra={
                "event_id": event.event_id,
                "detail_type": event.detail_type.value,
                "problem": problem,
            },
        )
        return False
