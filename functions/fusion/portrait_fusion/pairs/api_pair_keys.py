"""The keys the Pair API hands out, and how the pipeline tells them from other uploads.

A Pair API pair's id is 32 lower-case hex digits, and its halves are
`<INPUT_PREFIX><pair_id>/target.jpg` and `.../template.<ext>` (a catalogue template keeps its
extension). Only such keys can belong to a pair the API created; whether one does is for the
pair's record to say (`portrait_fusion.aws.pair_records`), never for the upload.
"""

from __future__ import annotations

import re

PAIR_ID = re.compile(r"[0-9a-f]{32}")
TARGET_NAME = "target.jpg"
TEMPLATE_NAME = "template.jpg"
_HALF = re.compile(r"(?P<pair>[0-9a-f]{32})/(?:target|template)\.[a-z]{3,4}")


def is_api_pair_id(text: str) -> bool:
    """Whether `text` has the shape of a pair id the Pair API makes."""
    return PAIR_ID.fullmatch(text) is not None


def api_pair_of(key: str, input_prefix: str) -> str | None:
    """The pair id `key` would have as a Pair API upload under `input_prefix`, or None."""
    if not key.startswith(input_prefix):
        return None
    match = _HALF.fullmatch(key[len(input_prefix) :])
    return match.group("pair") if match else None
