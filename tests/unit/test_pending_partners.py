"""Lone-half markers: keyed by due time, listed oldest first, never past the first not due."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from portrait_fusion.aws.storage import ObjectRef
from portrait_fusion.core.settings import DEFAULT_PAIR_PATTERN
from portrait_fusion.pairs.pairing import PairNaming
from portrait_fusion.partners.pending_partners import MARKER_PREFIX, PendingPartners

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


class _Bucket:
    """An S3 client over a dict, listing in key order, 2 keys a page, counting pages read."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.pages_read = 0

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:
        self.objects[Key] = Body

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        return {"Body": io.BytesIO(self.objects[Key])}

    def delete_object(self, *, Bucket: str, Key: str) -> None:
        del self.objects[Key]

    def get_paginator(self, name: str) -> Any:
        assert name == "list_objects_v2"
        return self

    def paginate(self, *, Bucket: str, Prefix: str) -> Iterator[dict[str, Any]]:
        keys = sorted(k for k in self.objects if k.startswith(Prefix))
        for start in range(0, len(keys), 2):
            self.pages_read += 1
            yield {"Contents": [{"Key": k} for k in keys[start : start + 2]]}


def _record(bucket: _Bucket, seen: datetime, pair_id: str) -> None:
    half = PairNaming(re.compile(DEFAULT_PAIR_PATTERN)).parse(f"incoming/{pair_id}/target.jpg")
    assert half is not None
    pending = PendingPartners(lambda: bucket, "out", 60, now=lambda: seen)
    pending.record(half, ObjectRef("in", half.key, "v1"))


def test_a_marker_is_keyed_by_its_due_time_and_names_the_half() -> None:
    bucket = _Bucket()
    _record(bucket, NOW, "p1")
    ((key, body),) = bucket.objects.items()
    assert key.startswith(f"{MARKER_PREFIX}20261201T130000Z/")
    assert json.loads(body) | {"seen_at": None} == {
        "bucket": "in",
        "key": "incoming/p1/target.jpg",
        "version_id": "v1",
        "pair_id": "p1",
        "role": "target",
        "seen_at": None,
    }


def test_only_due_markers_are_listed_oldest_first_and_listing_stops_at_the_first_not_due() -> None:
    bucket = _Bucket()
    for minutes, pair_id in ((-90, "old"), (-70, "later"), (-61, "just-due")):
        _record(bucket, NOW + timedelta(minutes=minutes), pair_id)
    for number in range(20):  # the bulk: halves seen recently, far from due
        _record(bucket, NOW - timedelta(minutes=number), f"recent-{number}")
    pending = PendingPartners(lambda: bucket, "out", 60, now=lambda: NOW)
    due = [marker.pair_id for marker in pending.due()]
    assert due == ["old", "later", "just-due"]
    assert bucket.pages_read == 2  # of 12: the page holding the first marker not due, no further
    for marker in pending.due():
        pending.forget(marker)
    assert len(bucket.objects) == 20
