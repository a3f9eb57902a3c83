"""Identical inputs are never billed twice: a merge's result is re-used for the same request.

"The same request" is what the API would see: the SHA-256 of both images *as sent* (after
EXIF rotation and auto-fit, which are deterministic, so the same upload always sends the
same bytes) and the same `source_similarity`. The pair id, the input keys and the original
files' bytes play no part: two uploads that differ only in bytes the preflight rewrites
away send the same request.

Re-use never crosses owners: a Pair API pair's fingerprint includes its owner, so one owner
is never handed (nor told the pair id of) another owner's result. `REUSE_ACROSS_OWNERS`
lifts that for single-tenant stacks; pairs uploaded straight to the bucket share one scope.

A record `reuse#<fingerprint>` in the idempotency table names the earlier result, at its
version in the (versioned) output bucket, and its SHA-256. It expires with that result
(ResultRetentionDays). A re-use reads the result back at that version, so a later merge of
the earlier pair (which writes the same key again) changes nothing, and checks its SHA-256
first: a result that was erased or expired is never copied, nor one named by key alone (a
record from before results were versioned) that a later merge overwrote.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from portrait_fusion.api.fusion_api import Upload
from portrait_fusion.aws.storage import ObjectRef, S3Storage
from portrait_fusion.core.errors import FusionError
from portrait_fusion.core.observability import logger
from portrait_fusion.guards.call_budget import Clock, utc_now
from portrait_fusion.pairs.pair_index import INDEX_ATTRIBUTE, pair_ref

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RECORD_PREFIX = "reuse#"
# Results are a few MB; the bound only stops a corrupt record from reading something huge.
_MAX_RESULT_BYTES = 64 * 1024 * 1024


def fingerprint(
    target: Upload, template: Upload, similarity: float | None, owner: str | None = None
) -> str:
    """What identifies a merge to the API (both sent images' SHA-256 and the similarity),
    within one owner's results (`owner` None: the scope of pairs without an owner)."""
    identity: dict[str, Any] = {
        "target": hashlib.sha256(target.data).hexdigest(),
        "template": hashlib.sha256(template.data).hexdigest(),
        "source_similarity": similarity,
    }
    if owner is not None:
        identity["owner"] = owner
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class EarlierResult:
    """A verified earlier result: its bytes and the result entry of the document it had."""

    pair_id: str
    image: bytes
    entry: dict[str, Any]


class ResultReuse(Protocol):
    """Finds and remembers results by the fingerprint of their request."""

    def find(self, key: str) -> EarlierResult | None:
        """The earlier result for fingerprint `key`, verified, or None."""

    def remember(self, key: str, pair_id: str, entry: dict[str, Any]) -> None:
        """Note that `pair_id`'s result (its document's `result` entry) answers `key`."""


class DynamoDBResultReuse:
    """`ResultReuse` on the idempotency table, reading results back from S3."""

    def __init__(
        self,
        table_name: str,
        client: Callable[[], DynamoDBClient],
        storage: S3Storage,
        *,
        retention_days: int,
        clock: Clock = utc_now,
    ) -> None:
        self._table = table_name
        self._client = client
        self._storage = storage
        self._retention = timedelta(days=retention_days) if retention_days else None
        self._clock = clock

    def find(self, key: str) -> EarlierResult | None:
        try:
            item = (
                self._client()
                .get_item(
                    TableName=self._table,
                    Key={"id": {"S": RECORD_PREFIX + key}},
                    ConsistentRead=True,
                )
                .get("Item")
            )
        except (ClientError, BotoCoreError) as exc:
            # Without the record the pair is merged (and billed) as if it were new.
            logger.warning("re-use record unreadable", extra={"error": type(exc).__name__})
            return None
        if not item:
            return None
        expiration = item.get("expiration", {}).get("N")
        if expiration and int(expiration) <= self._clock().timestamp():
            return None  # DynamoDB's TTL deletes lazily: an expired record may still be read
        entry: dict[str, Any] = json.loads(item["result"]["S"])
        try:
            source = ObjectRef(entry["bucket"], entry["key"], entry.get("version_id"))
            stored = self._storage.fetch(source, _MAX_RESULT_BYTES)
        except FusionError:
            return None  # erased or expired: merge again
        image = stored.data
        if image is None or hashlib.sha256(image).hexdigest() != entry["sha256"]:
            return None  # named by key alone, and overwritten by a later run of its pair
        return EarlierResult(item["pair_id"]["S"], image, entry)

    def remember(self, key: str, pair_id: str, entry: dict[str, Any]) -> None:
        values: dict[str, Any] = {
            "id": {"S": RECORD_PREFIX + key},
            "pair_id": {"S": pair_id},
            INDEX_ATTRIBUTE: {"S": pair_ref(pair_id)},  # erasing the pair finds it
            "result": {"S": json.dumps(entry, sort_keys=True)},
        }
        if self._retention is not None:
            # Never outlive the result: S3 expires it no earlier than this.
            expires: datetime = self._clock() + self._retention
            values["expiration"] = {"N": str(int(expires.timestamp()))}
        try:
            self._client().put_item(TableName=self._table, Item=values)
        except (ClientError, BotoCoreError) as exc:
            # The result is safe; only a later identical pair would pay again.
            logger.warning("re-use record not written", extra={"error": type(exc).__name__})
