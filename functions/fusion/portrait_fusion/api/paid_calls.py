"""The paid-call bound: at most one replacement call after a 200 that could not be used.

Every HTTP 200 is billed, whatever its body turns out to be. A pair's unusable 200s are
remembered for its whole life (every attempt of every delivery), keyed like its idempotency
record but in an item of their own: Powertools deletes its in-progress record when a pair is
handed back, and this mark must outlive that.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from portrait_fusion.core.errors import StorageError
from portrait_fusion.core.settings import RECORD_TTL_SECONDS
from portrait_fusion.pairs.pair_index import pair_ref

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient

UNUSABLE_LIMIT = 2
"""Unusable (but billed) 200s a pair may cost: the first, and one replacement."""

_ITEM_PREFIX = "unusable-200#"


class PaidCallMarks(Protocol):
    """Remembers, per pair, the request ids of billed 200s that could not be used."""

    def unusable(self, pair_key: str) -> list[str | None]:
        """The pair's unusable 200s so far, oldest first."""

    def add_unusable(self, pair_key: str, request_id: str | None) -> list[str | None]:
        """Record one more unusable 200; return the pair's list including it."""


def pair_key_of(identity: dict[str, Any]) -> str:
    """A stable key of a pair version: its pair id and a digest of its identity (the
    idempotency key's fields). The pair id stays readable so that erasure finds the marks."""
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return json.dumps([identity["pair_id"], digest])


def pair_id_of(pair_key: str) -> str | None:
    """The pair id inside a key made by :func:`pair_key_of` (None for any other key)."""
    try:
        pair_id, _digest = json.loads(pair_key)
    except ValueError:
        return None
    return pair_id if isinstance(pair_id, str) else None


class InMemoryPaidCallMarks:
    """`PaidCallMarks` for one process (tests, and calls made without a pair key)."""

    def __init__(self) -> None:
        self._marks: dict[str, list[str | None]] = {}
        self._lock = threading.Lock()

    def unusable(self, pair_key: str) -> list[str | None]:
        with self._lock:
            return list(self._marks.get(pair_key, []))

    def add_unusable(self, pair_key: str, request_id: str | None) -> list[str | None]:
        with self._lock:
            marks = self._marks.setdefault(pair_key, [])
            marks.append(request_id)
            return list(marks)


class DynamoDBPaidCallMarks:
    """`PaidCallMarks` in the idempotency table, one item per pair version, expiring with it."""

    def __init__(
        self,
        table_name: str,
        client: Callable[[], DynamoDBClient],
        ttl_seconds: int = RECORD_TTL_SECONDS,
    ) -> None:
        self._table = table_name
        self._client = client  # built on first use: most pairs never get an unusable 200
        self._ttl = ttl_seconds  # the idempotency record's, so the mark lives as long

    def unusable(self, pair_key: str) -> list[str | None]:
        try:
            item = (
                self._client()
                .get_item(TableName=self._table, Key=_item_key(pair_key), ConsistentRead=True)
                .get("Item", {})
            )
        except (BotoCoreError, ClientError) as exc:
            raise _store_error(exc) from exc
        return _request_ids(item)

    def add_unusable(self, pair_key: str, request_id: str | None) -> list[str | None]:
        try:
            item = (
                self._client()
                .update_item(
                    TableName=self._table,
                    Key=_item_key(pair_key),
                    # list_append is applied atomically, so two invocations racing on one pair
                    # both count.
                    UpdateExpression=(
                        "SET request_ids = list_append(if_not_exists(request_ids, :none), :new), "
                        "expiration = :expiration, pair_id = :pair, pair_ref = :ref"
                    ),
                    ExpressionAttributeValues={
                        ":none": {"L": []},
                        ":new": {"L": [{"S": request_id or ""}]},
                        ":expiration": {"N": str(int(time.time()) + self._ttl)},
                        # erasure finds a pair's records by this attribute
                        ":pair": {"S": pair_id_of(pair_key) or ""},
                        ":ref": {"S": pair_ref(pair_id_of(pair_key) or "")},
                    },
                    ReturnValues="ALL_NEW",
                )
                .get("Attributes", {})
            )
        except (BotoCoreError, ClientError) as exc:
            raise _store_error(exc) from exc
        return _request_ids(item)


def _item_key(pair_key: str) -> dict[str, Any]:
    return {"id": {"S": _ITEM_PREFIX + pair_key}}


def _request_ids(item: dict[str, Any]) -> list[str | None]:
    return [entry.get("S") or None for entry in item.get("request_ids", {}).get("L", [])]


def _store_error(exc: BotoCoreError | ClientError) -> StorageError:
    return StorageError(
        f"paid-call marks unavailable: {type(exc).__name__}", code="IDEMPOTENCY_STORE_ERROR"
    )
