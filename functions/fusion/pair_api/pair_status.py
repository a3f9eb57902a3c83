"""A pair's status from what the stores hold: pure, so every transition is unit-tested."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

PARTNER_MISSING = "ERROR_PARTNER_MISSING"


class PairStatus(StrEnum):
    """What `GET /pairs/{pair_id}` reports."""

    WAITING = "waiting"  # a half is not uploaded yet
    PROCESSING = "processing"  # both halves are in; no result document yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"  # the partner never came: a failed document with ERROR_PARTNER_MISSING


@dataclass(frozen=True)
class PairFacts:
    """What was found for one pair id."""

    created: bool  # the API created it (its request record exists)
    has_target: bool
    has_template: bool
    document: dict[str, Any] | None


def pair_status(facts: PairFacts) -> PairStatus | None:
    """The pair's status, or None when no such pair exists."""
    document = facts.document
    if document is not None:
        if document.get("status") == "succeeded":
            return PairStatus.SUCCEEDED
        error = document.get("error") or {}
        return PairStatus.EXPIRED if error.get("code") == PARTNER_MISSING else PairStatus.FAILED
    if not (facts.created or facts.has_target or facts.has_template):
        return None
    if facts.has_target and facts.has_template:
        return PairStatus.PROCESSING
    return PairStatus.WAITING
