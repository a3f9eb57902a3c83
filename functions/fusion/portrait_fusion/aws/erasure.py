"""Erasure on request: every version of a pair's inputs, its outputs and its records.

`erase_pair` is what `python -m ops.erase` runs, and what an HTTP `DELETE` of a pair can call
from inside the function package. It needs s3:ListBucketVersions, s3:DeleteObjectVersion on
both buckets and dynamodb:Query (on the `by-pair` index), dynamodb:DeleteItem and
dynamodb:PutItem on the table. Its cost follows what the pair left, never the size of the
buckets or the table: listings of the pair's own prefixes and one Query of the index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from portrait_fusion.aws.pair_records import RECORD_PREFIX, PairRecords
from portrait_fusion.core.settings import DEFAULT_PAIR_PATTERN
from portrait_fusion.pairs.pair_buckets import PairBuckets
from portrait_fusion.pairs.pair_index import INDEX_ATTRIBUTE, INDEX_NAME, pair_ref
from portrait_fusion.pairs.pairing import PairNaming

_REGEX_SYNTAX = re.compile(r"[.^$*+?{}\[\]|()\\]")
_DELETE_BATCH = 1000  # DeleteObjects' limit


@dataclass(frozen=True)
class PairLocations(PairBuckets):
    """Where a stack keeps pairs: the buckets and prefixes, the table, the naming convention."""

    table: str
    pair_pattern: str = DEFAULT_PAIR_PATTERN

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PairLocations:
        """The function's own environment variables."""
        missing = [
            name
            for name in ("INPUT_BUCKET", "OUTPUT_BUCKET", "IDEMPOTENCY_TABLE")
            if not env.get(name)
        ]
        if missing:
            raise ValueError(f"set {', '.join(missing)} (or pass --stack NAME)")
        return cls(
            input_bucket=env["INPUT_BUCKET"],
            output_bucket=env["OUTPUT_BUCKET"],
            table=env["IDEMPOTENCY_TABLE"],
            input_prefix=env.get("INPUT_PREFIX") or "incoming/",
            output_prefix=env.get("OUTPUT_PREFIX") or "results/",
            pair_pattern=env.get("PAIR_PATTERN") or DEFAULT_PAIR_PATTERN,
        )

    @classmethod
    def from_stack(cls, cloudformation: Any, stack_name: str) -> PairLocations:
        """A deployed stack's outputs (buckets, table) and parameters (prefixes, pattern)."""
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
        return cls(
            input_bucket=outputs["InputBucketName"],
            output_bucket=outputs["OutputBucketName"],
            table=outputs["IdempotencyTableName"],
            input_prefix=parameters.get("InputPrefix", "incoming/"),
            output_prefix=parameters.get("OutputPrefix", "results/"),
            pair_pattern=parameters.get("PairPattern", DEFAULT_PAIR_PATTERN),
        )


@dataclass
class ErasureReport:
    """What one erasure removed."""

    pair_id: str
    objects: list[str] = field(default_factory=list)  # s3://bucket/key (version ...)
    records: list[str] = field(default_factory=list)  # table item ids

    @property
    def removed_anything(self) -> bool:
        return bool(self.objects or self.records)

    def lines(self) -> list[str]:
        """The report as printed by the command line."""
        if not self.removed_anything:
            return [f"pair {self.pair_id!r}: nothing left to erase"]
        return [
            f"pair {self.pair_id!r}: removed {len(self.objects)} object version(s) and "
            f"{len(self.records)} record(s)",
            *(f"  object  {uri}" for uri in self.objects),
            *(f"  record  {record}" for record in self.records),
        ]


def erase_pair(pair_id: str, where: PairLocations, *, s3: Any, dynamodb: Any) -> ErasureReport:
    """Remove every version of `pair_id`'s inputs and outputs and every record naming it.

    Idempotent: what is already gone is simply not reported. Objects go first, records
    last, so an interrupted erasure can be run again and still finds what is left. A pair
    the Pair API created leaves a tombstone (no owner, nothing it asked for), so that its
    upload forms, valid for minutes yet, bring nothing back.
    """
    report = ErasureReport(pair_id)
    report.objects += discard_inputs(pair_id, where, s3=s3)
    outputs = list(_versions(s3, where.output_bucket, f"{where.output_prefix}{pair_id}/"))
    report.objects += _delete_versions(s3, where.output_bucket, outputs)
    # The index is eventually consistent; the Pair API's record is deleted by its key too.
    api_record = RECORD_PREFIX + pair_id
    created_by_api = False
    for record_id in dict.fromkeys([api_record, *_records_of(dynamodb, where.table, pair_id)]):
        answer = dynamodb.delete_item(
            TableName=where.table, Key={"id": {"S": record_id}}, ReturnValues="ALL_OLD"
        )
        old = answer.get("Attributes")
        if old:
            report.records.append(record_id)
            created_by_api = created_by_api or (record_id == api_record and "owner" in old)
    if created_by_api:
        PairRecords(where.table, lambda: dynamodb).mark_erased(pair_id)
    return report


def discard_inputs(pair_id: str, where: PairLocations, *, s3: Any) -> list[str]:
    """Delete every version of `pair_id`'s inputs; what was removed (`s3://...` lines)."""
    naming = PairNaming(re.compile(where.pair_pattern))

    def is_input(key: str) -> bool:
        half = naming.parse(key)
        return half is not None and half.pair_id == pair_id

    prefix = _input_listing_prefix(where.pair_pattern, pair_id, where.input_prefix)
    inputs = [v for v in _versions(s3, where.input_bucket, prefix) if is_input(v["Key"])]
    return _delete_versions(s3, where.input_bucket, inputs)


def _input_listing_prefix(pattern: str, pair_id: str, input_prefix: str) -> str:
    """The narrowest prefix holding the pair's inputs: the pattern's literal text before the
    `pair` group plus the pair id when there is such a text, else the whole input prefix."""
    head, found, _ = pattern.removeprefix("^").partition("(?P<pair>")
    if found and not _REGEX_SYNTAX.search(head):
        return head + pair_id
    return input_prefix


def _versions(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every version and delete marker under `prefix` (an unversioned bucket has one each)."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Versions", [])
        yield from page.get("DeleteMarkers", [])


def _delete_versions(s3: Any, bucket: str, versions: list[dict[str, Any]]) -> list[str]:
    removed = []
    for start in range(0, len(versions), _DELETE_BATCH):
        batch = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in versions[start : start + _DELETE_BATCH]
        ]
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": False})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise RuntimeError(
                f"cannot delete s3://{bucket}/{first['Key']}: {first.get('Code')} "
                f"({len(answer['Errors'])} object version(s) left; run the erasure again)"
            )
        removed += [
            f"s3://{bucket}/{d['Key']} (version {d.get('VersionId') or 'null'})"
            for d in answer.get("Deleted", [])
        ]
    return removed


def _records_of(dynamodb: Any, table: str, pair_id: str) -> list[str]:
    """Ids of every record naming `pair_id`: one Query of the `by-pair` index (see
    `portrait_fusion.pairs.pair_index`), so the cost follows the pair's own records."""
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        IndexName=INDEX_NAME,
        KeyConditionExpression="#ref = :ref",
        ExpressionAttributeNames={"#ref": INDEX_ATTRIBUTE},
        ExpressionAttributeValues={":ref": {"S": pair_ref(pair_id)}},
        ProjectionExpression="id",
    )
    return [item["id"]["S"] for page in pages for item in page.get("Items", [])]
