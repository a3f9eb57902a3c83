"""The body of `POST /pairs`, validated: every field optional, every mistake named."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from pair_api.errors import BodyTooLarge, InvalidRequest, UnsupportedMediaType

MAX_BODY_BYTES = 4096
FIELDS = ("source_similarity", "correlation_id", "template_id")
# Matched whole (fullmatch): `$` would also match before a final newline.
# S3 user metadata travels in HTTP headers: printable ASCII only, no control character.
CORRELATION_ID = re.compile(r"[\x20-\x7e]{1,128}")
TEMPLATE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
CORRELATION_ID_RULE = "1 to 128 printable ASCII characters"
TEMPLATE_ID_RULE = "1 to 64 lower-case letters, digits, '-' or '_'"


@dataclass(frozen=True)
class NewPair:
    """What the app asked for when it created a pair."""

    source_similarity: float | None = None
    correlation_id: str | None = None
    template_id: str | None = None


def parse_new_pair(body: str | None, content_type: str | None) -> NewPair:
    """Validate a `POST /pairs` body; raise a 400, 413 or 415 `PairApiError` naming the problem."""
    if body is None or not body.strip():
        return NewPair()
    if len(body.encode()) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"the request body is over {MAX_BODY_BYTES} bytes")
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType(
            f"the request body must be application/json, got {media_type or 'no Content-Type'}"
        )
    try:
        fields = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc.msg}") from exc
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise InvalidRequest(f"the request body cannot be read: {exc}") from exc
    if not isinstance(fields, dict):
        raise InvalidRequest("the request body must be a JSON object")
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise InvalidRequest(
            f"unknown field {unknown[0]!r}; the fields are {', '.join(FIELDS)}", field=unknown[0]
        )
    return NewPair(
        source_similarity=_similarity(fields.get("source_similarity")),
        correlation_id=_text(
            fields.get("correlation_id"), "correlation_id", CORRELATION_ID, CORRELATION_ID_RULE
        ),
        template_id=_text(fields.get("template_id"), "template_id", TEMPLATE_ID, TEMPLATE_ID_RULE),
    )


def _similarity(value: Any) -> float | None:
    if value is None:
        return None
    refusal = InvalidRequest(
        "source_similarity must be a number in [0, 1]", field="source_similarity"
    )
    # bool is an int in Python, but `true` is no similarity
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise refusal
    # Compared before any float conversion: a 310-digit integer has no float.
    if (isinstance(value, float) and not math.isfinite(value)) or not 0 <= value <= 1:
        raise refusal
    return float(value)


def _text(value: Any, name: str, shape: re.Pattern[str], rule: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or shape.fullmatch(value) is None:
        raise InvalidRequest(f"{name} must be {rule}", field=name)
    return value
