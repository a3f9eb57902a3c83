"""Lone halves waiting for their partner, as small marker objects keyed by when they fall due.

A marker is written when a lone half is seen, under
`partner-timeouts/<due, UTC, yyyymmddThhmmssZ>/<hash of the pair>.json` in the output bucket.
S3 lists keys in lexical order, which here is due order: the sweep lists from the oldest
marker and stops at the first one not yet due, so its cost follows the number of halves due,
never the size of the input bucket. Each marker is deleted once it has been dealt with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from portrait_fusion.aws.storage import ObjectRef, storage_error
from portrait_fusion.core.errors import Stage, StorageError
from portrait_fusion.pairs.pairing import Half

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MARKER_PREFIX = "partner-timeouts/"
_STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Marker:
    """One lone half as it was seen, and where its marker is stored."""

    key: str  # the marker's own key
    half: ObjectRef  # the lone half (with the version its upload event named)
    pair_id: str
    role: str
    seen_at: str


class PendingPartners:
    """Records lone halves and lists the ones whose partner is overdue."""

    def __init__(
        self,
        client_factory: Callable[[], S3Client],
        bucket: str,
        timeout_minutes: float,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client_factory = client_factory
        self._bucket = bucket
        self._timeout = timedelta(minutes=timeout_minutes)
        self._now = now

    def record(self, half: Half, ref: ObjectRef) -> None:
        """Remember that `ref` (one half of `half.pair_id`) is waiting for its partner."""
        seen = self._now()
        pair_hash = hashlib.sha256(f"{ref.bucket}/{half.listing_prefix}".encode()).hexdigest()
        key = f"{MARKER_PREFIX}{(seen + self._timeout).strftime(_STAMP)}/{pair_hash[:24]}.json"
        body = {
            "bucket": ref.bucket,
            "key": ref.key,
            "version_id": ref.version_id,
            "pair_id": half.pair_id,
            "role": half.role.value,
            "seen_at": seen.isoformat(timespec="seconds"),
        }
        try:
            self._client_factory().put_object(
                Bucket=self._bucket,
                Key=key,
                Body=json.dumps(body).encode(),
                ContentType="application/json",
            )
        except (ClientError, BotoCoreError) as exc:
            raise _error(f"cannot record the lone half {ref.uri}", exc) from exc

    def due(self) -> Iterator[Marker]:
        """Every marker due by now, oldest first; stops listing at the first one not due."""
        now = self._now().strftime(_STAMP)
        client = self._client_factory()
        try:
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=MARKER_PREFIX
            )
            for page in pages:
                for item in page.get("Contents", []):
                    stamp = item["Key"][len(MARKER_PREFIX) :].split("/", 1)[0]
                    if stamp > now:
                        return
                    yield self._read(item["Key"])
        except (ClientError, BotoCoreError) as exc:
            raise _error("cannot list the lone halves due", exc) from exc

    def forget(self, marker: Marker) -> None:
        """Delete a marker that has been dealt with."""
        try:
            self._client_factory().delete_object(Bucket=self._bucket, Key=marker.key)
        except (ClientError, BotoCoreError) as exc:
            raise _error(f"cannot delete s3://{self._bucket}/{marker.key}", exc) from exc

    def _read(self, key: str) -> Marker:
        body = self._client_factory().get_object(Bucket=self._bucket, Key=key)["Body"].read()
        fields = json.loads(body)
        return Marker(
            key=key,
            half=ObjectRef(fields["bucket"], fields["key"], fields.get("version_id")),
            pair_id=fields["pair_id"],
            role=fields["role"],
            seen_at=fields["seen_at"],
        )


def _error(what: str, exc: Exception) -> StorageError:
    return storage_error(what, exc, Stage.PAIRING)
