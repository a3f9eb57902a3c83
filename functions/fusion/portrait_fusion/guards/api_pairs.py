"""One merge per Pair API pair: its record tells the owner, and is claimed for one version.

A pair the Pair API created is merged once. Its record (`portrait_fusion.aws.pair_records`)
is claimed for the first complete version of the pair that runs; an upload that makes
another version later (a presigned form is valid for minutes, however often it is posted)
buys nothing: until the claimed version has ended, its delivery runs the claimed version
instead (`portrait_fusion.pipeline.admission`). An upload to an erased pair is removed on
arrival.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from portrait_fusion.aws.pair_records import ApiPair, Claim, MergedVersion, PairRecords


class ApiPairRegister(Protocol):
    """What the pipeline asks about pairs the Pair API created."""

    def get(self, pair_id: str) -> ApiPair | None:
        """The pair's record (or tombstone), None for a pair the API did not create."""

    def claim(self, pair_id: str, version: MergedVersion) -> Claim:
        """Claim the pair's one merge for `version`; refused, naming the version that holds
        it, when another version has it (with no holder when the pair was erased)."""

    def discard_uploads(self, pair_id: str, bucket: str) -> int:
        """Remove every version of the pair's inputs in `bucket`; how many were removed."""


class DynamoDBApiPairs:
    """`ApiPairRegister` on the table's pair records and the input bucket."""

    def __init__(self, records: PairRecords, discard: Callable[[str, str], list[str]]) -> None:
        self._records = records
        self._discard = discard  # erasure.discard_inputs with the stack's locations

    def get(self, pair_id: str) -> ApiPair | None:
        return self._records.get(pair_id)

    def claim(self, pair_id: str, version: MergedVersion) -> Claim:
        return self._records.claim(pair_id, version)

    def discard_uploads(self, pair_id: str, bucket: str) -> int:
        return len(self._discard(pair_id, bucket))
