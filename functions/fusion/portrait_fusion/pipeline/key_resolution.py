"""Which object an event means: its key as the source wrote it, resolved against the bucket.

Sources encode keys differently. S3 notifications are form-encoded (`+` is a space); S3 Batch
Operations tasks are percent-encoded (AWS's own example decodes them with `unquote`); AWS does
not say how EventBridge's `detail.object.key` is written (moto sends it raw). A key is read
the documented way first and the other plausible ways after; the first reading that names an
object in the bucket wins, so `a+b` and `a b` are both found whichever way they arrived.

A reading is looked up by listing its pair's folder (the naming convention's listing prefix),
not the key alone: the pair resolver needs that listing next, so one LIST serves both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from urllib.parse import unquote, unquote_plus

from portrait_fusion.aws.storage import ObjectRef
from portrait_fusion.core.observability import count, logger
from portrait_fusion.pairs.pairing import PairNaming


class KeyEncoding(StrEnum):
    """How a source writes object keys into its events."""

    FORM = "form"  # S3 event notifications
    PERCENT = "percent"  # S3 Batch Operations tasks
    UNSPECIFIED = "unspecified"  # EventBridge: undocumented


def _raw(key: str) -> str:
    return key


# The documented reading first; for EventBridge, the notification's encoding, then raw.
_READINGS: dict[KeyEncoding, tuple[Callable[[str], str], ...]] = {
    KeyEncoding.FORM: (unquote_plus, unquote, _raw),
    KeyEncoding.PERCENT: (unquote, unquote_plus, _raw),
    KeyEncoding.UNSPECIFIED: (unquote_plus, _raw, unquote),
}


@dataclass(frozen=True)
class ReportedObject:
    """An object as an event names it: the key still in the source's encoding.

    `version_id` is the version the event pins (Batch Operations' `s3VersionId`); an upload
    notification pins none, so a pair is always merged from its latest inputs.
    """

    bucket: str
    raw_key: str
    encoding: KeyEncoding
    version_id: str | None = None

    @property
    def key(self) -> str:
        """The key read the documented way."""
        return self.readings()[0]

    def readings(self) -> list[str]:
        """Every plausible reading of the raw key, the documented one first, no repeats."""
        readings: list[str] = []
        for decode in _READINGS[self.encoding]:
            reading = decode(self.raw_key)
            if reading not in readings:
                readings.append(reading)
        return readings


@dataclass(frozen=True)
class Listing:
    """The keys under one prefix of a bucket, as one LIST saw them."""

    bucket: str
    prefix: str
    keys: tuple[str, ...]  # in listing order

    def covers(self, bucket: str, prefix: str) -> bool:
        """Whether this is the listing of `prefix` in `bucket`."""
        return (self.bucket, self.prefix) == (bucket, prefix)


@dataclass(frozen=True)
class FoundObject:
    """The object an event means, and the listing of its pair's folder that found it (None
    for a key outside the naming convention, which is not looked up)."""

    ref: ObjectRef
    listing: Listing | None = None


class ObjectLookup(Protocol):
    """Lists a bucket's keys, and tells whether an object at a pinned version is there."""

    def list_keys(self, bucket: str, prefix: str) -> list[str]: ...

    def exists(self, ref: ObjectRef) -> bool: ...


class KeyResolver:
    """Turns a reported object into the object in the bucket it means."""

    def __init__(self, lookup: ObjectLookup, naming: PairNaming) -> None:
        self._lookup = lookup
        self._naming = naming

    def resolve(self, reported: ReportedObject) -> FoundObject | None:
        """The object the event means, or None (warned and counted) when none is there.

        A key that matches the naming convention in no reading is returned as documented,
        unchecked: the pipeline skips it without a request to S3.
        """
        halves = [h for k in reported.readings() if (h := self._naming.parse(k)) is not None]
        if not halves:
            return FoundObject(ObjectRef(reported.bucket, reported.key, reported.version_id))
        listing: Listing | None = None  # readings of one key mostly share their folder
        for half in halves:
            if listing is None or not listing.covers(reported.bucket, half.listing_prefix):
                listing = self._list(reported.bucket, half.listing_prefix)
            ref = ObjectRef(reported.bucket, half.key, reported.version_id)
            if half.key in listing.keys and (ref.version_id is None or self._lookup.exists(ref)):
                return FoundObject(ref, listing)
        count("ObjectsMissing")
        logger.warning(
            "object named by the event is not in the bucket: skipped",
            extra={
                "bucket": reported.bucket,
                "raw_key": reported.raw_key,
                "readings": [half.key for half in halves],
                "version_id": reported.version_id,
            },
        )
        return None

    def _list(self, bucket: str, prefix: str) -> Listing:
        return Listing(bucket, prefix, tuple(self._lookup.list_keys(bucket, prefix)))
