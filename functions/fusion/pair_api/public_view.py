"""What `GET /pairs/{pair_id}` shows an app: its pair's progress, none of the stack's insides.

The result document in the output bucket is for operators: it names buckets, keys, ETags,
version ids, the function and its request ids. The view keeps what an app acts on (status,
times, similarity, correlation id, the result's shape, the error's code and message) and
takes storage locations out of error messages. `schemas/pair-view.schema.json` describes it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pair_api.pair_status import PairStatus
from portrait_fusion.aws.pair_records import ApiPair

_S3_URI = re.compile(r"s3://\S+")


def public_view(
    pair: ApiPair,
    status: PairStatus,
    document: dict[str, Any] | None,
    result_url: str | None,
    hidden: Sequence[str],
) -> dict[str, Any]:
    """The view of `pair`; `hidden` are texts (bucket names, key prefixes) that must not
    appear in it even inside a message."""
    document = document or {}
    result = document.get("result") if status is PairStatus.SUCCEEDED else None
    error = document.get("error") if status in (PairStatus.FAILED, PairStatus.EXPIRED) else None
    similarity = document.get("source_similarity", pair.source_similarity)
    return {
        "pair_id": pair.pair_id,
        "status": status.value,
        "created_at": pair.created_at,
        "started_at": document.get("started_at"),
        "finished_at": document.get("finished_at"),
        "source_similarity": similarity,
        "correlation_id": document.get("correlation_id") or pair.correlation_id,
        "template_id": pair.template_id,
        "result": None
        if not result
        else {name: result.get(name) for name in ("content_type", "width", "height", "size")},
        "error": None
        if not error
        else {
            "code": str(error.get("code", "")),
            "message": _scrubbed(str(error.get("message", "")), hidden),
        },
        "result_url": result_url,
    }


def _scrubbed(message: str, hidden: Sequence[str]) -> str:
    """`message` without storage locations."""
    message = _S3_URI.sub("the pair's storage", message)
    for text in sorted(filter(None, hidden), key=len, reverse=True):
        message = message.replace(text, "")
    return message
