"""The Pair API's record of each pair it created, in the idempotency table: who owns it, what
was asked, and which version of it was merged.

The Pair API writes the record (`pair#<pair_id>`) before it hands out any upload; the fusion
function reads it to learn the owner (an upload form cannot name one: the record is the only
source) and claims it, once, for the one version of the pair it merges. The claim names that
version's inputs (their version ids, and the similarity), so that a delivery of a later upload
can still finish the claimed version when its own merge was handed back. Erasure leaves a
tombstone in its place, so that a form re-posted within its validity brings nothing back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from portrait_fusion.aws.storage import aws_error_detail
from portrait_fusion.core.errors import Stage, StorageError
from portrait_fusion.core.settings import RECORD_TTL_SECONDS
from portrait_fusion.pairs.pair_index import INDEX_ATTRIBUTE, pair_ref

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RECORD_PREFIX = "pair#"
TOMBSTONE_SECONDS = RECORD_TTL_SECONDS
"""How long an erased pair stays known as erased: longer than any upload form is valid, and
as long as a queued upload event for it may still be delivered."""


@dataclass(frozen=True)
class MergedVersion:
    """The one version of a pair its record is claimed for: the key its paid calls count
    under, and what reads that version again (its inputs' version ids, its similarity)."""

    key: str
    target_version_id: str | None = None
    template_version_id: str | None = None
    source_similarity: float | None = None


@dataclass(frozen=True)
class Claim:
    """What claiming a pair's merge found: whether the version asking holds it now, and the
    version that does (None when there is no record, or the pair was erased)."""

    granted: bool
    holder: MergedVersion | None


@dataclass(frozen=True)
class ApiPair:
    """One pair the Pair API created."""

    pair_id: str
    owner: str  # an owner id (see pair_api.owner): never the caller's claims themselves
    created_at: str
    source_similarity: float | None = None
    correlation_id: str | None = None
    template_id: str | None = None
    merged: MergedVersion | None = None  # the pair version merged, once claimed
    erased: bool = False


def record_key(pair_id: str) -> dict[str, Any]:
    """The table key of `pair_id`'s record."""
    return {"id": {"S": RECORD_PREFIX + pair_id}}


class PairRecords:
    """`ApiPair` records in a DynamoDB table; every failure is a `StorageError`."""

    def __init__(
        self,
        table: str,
        client: Callable[[], DynamoDBClient],
        *,
        ttl_seconds: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table
        self._client = client
        self._ttl = ttl_seconds  # None: kept as long as the pair's results (no expiry)
        self._clock = clock

    def create(self, pair: ApiPair) -> None:
        """Write a new pair's record (never over an existing one)."""
        item: dict[str, Any] = {
            **record_key(pair.pair_id),
            "pair_id": {"S": pair.pair_id},
            INDEX_ATTRIBUTE: {"S": pair_ref(pair.pair_id)},
            "owner": {"S": pair.owner},
            "created_at": {"S": pair.created_at},
        }
        if pair.source_similarity is not None:
            item["source_similarity"] = {"N": repr(pair.source_similarity)}
        for name in ("correlation_id", "template_id"):
            value = getattr(pair, name)
            if value is not None:
                item[name] = {"S": value}
        if self._ttl is not None:
            item["expiration"] = {"N": str(int(self._clock()) + self._ttl)}
        self._call(
            "put_item",
            f"cannot record pair {pair.pair_id}",
            Item=item,
            ConditionExpression="attribute_not_exists(id)",
        )

    def get(self, pair_id: str) -> ApiPair | None:
        """The pair's record (or its tombstone), None when there is neither."""
        answer = self._call(
            "get_item",
            f"cannot read pair {pair_id}",
            Key=record_key(pair_id),
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if not item:
            return None
        expiration = item.get("expiration", {}).get("N")
        if expiration and int(expiration) <= self._clock():
            return None  # DynamoDB's TTL deletes lazily: an expired record may still be read
        return _pair_of(pair_id, item)

    def claim(self, pair_id: str, version: MergedVersion) -> Claim:
        """Claim the pair's one merge for `version`: granted the first time, and again for
        the same version (so a retried delivery goes on); refused, naming the version that
        holds it, when the pair is claimed for another; refused with no holder when the pair
        was erased or is not recorded. One conditional write: on a refusal DynamoDB returns
        the record as it stood, so the holder is read atomically with the refusal."""
        try:
            answer = self._client().update_item(
                TableName=self._table,
                Key=record_key(pair_id),
                UpdateExpression="SET merged = :key, merged_inputs = :inputs",
                ConditionExpression=(
                    "attribute_exists(#owner) AND (attribute_not_exists(merged) OR merged = :key)"
                ),
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":key": {"S": version.key},
                    ":inputs": {"M": _inputs_item(version)},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _error(f"cannot claim pair {pair_id}", exc) from exc
            # DynamoDB's refusal carries the record (ALL_OLD); botocore's stubs omit it.
            held = cast(dict[str, Any], exc.response).get("Item")
            pair = _pair_of(pair_id, held) if held else None
            return Claim(False, None if pair is None or pair.erased else pair.merged)
        except BotoCoreError as exc:
            raise _error(f"cannot claim pair {pair_id}", exc) from exc
        return Claim(True, _pair_of(pair_id, answer["Attributes"]).merged)

    def remove(self, pair_id: str) -> None:
        """Delete the pair's record (a creation that failed half-way)."""
        self._call("delete_item", f"cannot remove pair {pair_id}", Key=record_key(pair_id))

    def mark_erased(self, pair_id: str) -> None:
        """Replace the pair's record by a tombstone: no owner, nothing it asked for."""
        self._call(
            "put_item",
            f"cannot mark pair {pair_id} erased",
            Item={
                **record_key(pair_id),
                "erased": {"BOOL": True},
                "expiration": {"N": str(int(self._clock()) + TOMBSTONE_SECONDS)},
            },
        )

    def _call(self, operation: str, what: str, **arguments: Any) -> Any:
        try:
            return getattr(self._client(), operation)(TableName=self._table, **arguments)
        except (ClientError, BotoCoreError) as exc:
            raise _error(what, exc) from exc


def _inputs_item(version: MergedVersion) -> dict[str, Any]:
    """The claimed version's inputs as a DynamoDB map (NULL for what is unknown: a bucket
    without versioning, a similarity left to the API)."""
    similarity = version.source_similarity
    return {
        "target_version_id": _text_item(version.target_version_id),
        "template_version_id": _text_item(version.template_version_id),
        "source_similarity": {"NULL": True} if similarity is None else {"N": repr(similarity)},
    }


def _text_item(value: str | None) -> dict[str, Any]:
    return {"NULL": True} if value is None else {"S": value}


def _merged_of(item: dict[str, Any]) -> MergedVersion | None:
    """The claim a record holds; a claim written before it named its inputs has only its key
    (that version cannot be read again)."""
    key = item.get("merged", {}).get("S")
    if key is None:
        return None
    inputs = item.get("merged_inputs", {}).get("M", {})
    similarity = inputs.get("source_similarity", {}).get("N")
    return MergedVersion(
        key=str(key),
        target_version_id=inputs.get("target_version_id", {}).get("S"),
        template_version_id=inputs.get("template_version_id", {}).get("S"),
        source_similarity=float(similarity) if similarity is not None else None,
    )


def _pair_of(pair_id: str, item: dict[str, Any]) -> ApiPair:
    def text(name: str) -> str | None:
        value = item.get(name, {}).get("S")
        return str(value) if value is not None else None

    similarity = item.get("source_similarity", {}).get("N")
    return ApiPair(
        pair_id=pair_id,
        owner=text("owner") or "",
        created_at=text("created_at") or "",
        source_similarity=float(similarity) if similarity is not None else None,
        correlation_id=text("correlation_id"),
        template_id=text("template_id"),
        merged=_merged_of(item),
        erased=bool(item.get("erased", {}).get("BOOL", False)),
    )


def _error(what: str, exc: Exception) -> StorageError:
    error = StorageError(f"{what}: {aws_error_detail(exc)}", code="PAIR_RECORD_ERROR")
    error.stage = Stage.PAIRING
    return error
