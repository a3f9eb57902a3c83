"""The presigned POST policy of one upload, as plain data: exactly what S3 is told to enforce."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pair_api.pair_request import NewPair


@dataclass(frozen=True)
class UploadPolicy:
    """The form fields the app must send back unchanged, and the conditions S3 checks."""

    key: str
    fields: dict[str, str] = field(default_factory=dict)
    conditions: list[Any] = field(default_factory=list)


def pair_metadata(request: NewPair) -> dict[str, str]:
    """The S3 user metadata the pipeline reads from an input (names without `x-amz-meta-`)."""
    metadata = {}
    if request.source_similarity is not None:
        metadata["source-similarity"] = repr(request.source_similarity)
    if request.correlation_id is not None:
        metadata["correlation-id"] = request.correlation_id
    return metadata


def upload_policy(key: str, request: NewPair, *, max_bytes: int) -> UploadPolicy:
    """A policy for exactly `key`: 1..`max_bytes` bytes, an `image/*` type, fixed metadata.

    `Content-Type` is left to the app (it knows the file), but must start with `image/`.
    """
    fields = {f"x-amz-meta-{name}": value for name, value in pair_metadata(request).items()}
    conditions: list[Any] = [
        ["content-length-range", 1, max_bytes],
        ["starts-with", "$Content-Type", "image/"],
        *({name: value} for name, value in fields.items()),
    ]
    return UploadPolicy(key=key, fields=fields, conditions=conditions)
