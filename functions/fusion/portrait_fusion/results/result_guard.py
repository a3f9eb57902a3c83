"""A failure never replaces a good result of the same inputs.

A request that fails before the API (a bad `source_similarity`, a stale event for an input
deleted since) says nothing new about a pair that already succeeded from those inputs: its
`succeeded` document stays, and the failure goes back to the caller and to the log only.
"""

from __future__ import annotations

import json
from typing import Any

from portrait_fusion.results.result_document import PairRecord


def keeps_stored_success(stored: dict[str, Any] | None, record: PairRecord) -> bool:
    """Whether `stored` is a `succeeded` document that a failure of `record` must not replace:
    its inputs are the ones `record` read, or `record` never got to read them."""
    if not stored or stored.get("status") != "succeeded":
        return False
    inputs = stored.get("inputs") or {}
    for role in ("target", "template"):
        head = record.heads.get(role)
        if head is None:
            continue  # unknown here: nothing shows the inputs changed
        entry = inputs.get(role) or {}
        if (entry.get("key"), entry.get("etag"), entry.get("version_id")) != (
            head.ref.key,
            head.etag,
            head.version_id,
        ):
            return False
    return True


def parse_document(data: bytes | None) -> dict[str, Any] | None:
    """A stored `result.json`, or None if it is not a JSON object."""
    try:
        document = json.loads(data or b"")
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
