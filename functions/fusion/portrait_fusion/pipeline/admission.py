"""Which uploads may start a run: a Pair API pair only while its record allows it.

An upload whose key is one the Pair API hands out is looked up in the pair records. A pair
the API did not create is an ordinary pair of the naming convention. An erased pair's upload
(a form re-posted after `DELETE`) is removed and goes no further: no run, no lone-half
marker, no document.

Once a run claimed an API pair for one version, a delivery that reads another version (a form
posted again, read by the retry of a merge that was handed back) buys nothing, but it does not
leave the claimed version unfinished either: until a terminal document of that version exists,
the delivery runs it, read at the versions the claim names (`pinned_to_claim`). So a pair whose
merge was handed back still ends as a result, a `failed` document or a DLQ message, and is
never merged from another version.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from portrait_fusion.aws.pair_records import ApiPair, MergedVersion
from portrait_fusion.aws.storage import ObjectRef
from portrait_fusion.core.observability import count, logger
from portrait_fusion.guards.api_pairs import ApiPairRegister
from portrait_fusion.pairs.api_pair_keys import api_pair_of
from portrait_fusion.pipeline.outcome import Outcome, PairRequest, Status
from portrait_fusion.results.result_document import PairRecord


@dataclass(frozen=True)
class Admission:
    """Looks up the Pair API's record of an upload's pair."""

    input_prefix: str
    register: ApiPairRegister | None

    def admit(self, ref: ObjectRef) -> ApiPair | Outcome | None:
        """The pair's record when the API created it; an `Outcome` when the upload goes no
        further; None for an upload of any other pair."""
        pair_id = api_pair_of(ref.key, self.input_prefix)
        if pair_id is None or self.register is None:
            return None
        pair = self.register.get(pair_id)
        if pair is None or not pair.erased:
            return pair
        removed = self.register.discard_uploads(pair_id, ref.bucket)
        count("UploadsToErasedPairs")
        logger.warning(
            "upload to an erased pair: removed, nothing run",
            extra={"pair_id": pair_id, "key": ref.key, "versions_removed": removed},
        )
        return Outcome(Status.SKIPPED, pair_id, detail="the pair was erased; its upload removed")


def claimed_version(record: PairRecord, pair_key: str) -> MergedVersion:
    """What a claim for the version `record` read names: its paid-call key, and what reads
    that version again."""
    return MergedVersion(
        key=pair_key,
        target_version_id=record.heads["target"].version_id,
        template_version_id=record.heads["template"].version_id,
        source_similarity=record.source_similarity,
    )


def pinned_to_claim(
    request: PairRequest, record: PairRecord, holder: MergedVersion | None
) -> PairRequest | None:
    """`request` for the version that holds its pair's claim: both inputs at the claimed
    versions, at the claimed similarity. None when there is none to run: no holder (an erased
    pair), a claim that does not name its versions (written before claims did), or a refused
    run that read those very versions (it differed in its similarity alone)."""
    if holder is None or holder.target_version_id is None or holder.template_version_id is None:
        return None
    read = (record.heads["target"].version_id, record.heads["template"].version_id)
    if read == (holder.target_version_id, holder.template_version_id):
        return None
    return replace(
        request,
        target=replace(request.target, version_id=holder.target_version_id),
        template=replace(request.template, version_id=holder.template_version_id),
        similarity=holder.source_similarity,
    )


def has_ended(document: dict[str, Any] | None, pinned: PairRequest) -> bool:
    """Whether `document` (the pair's stored `result.json`) is a terminal document of the
    version `pinned` (from `pinned_to_claim`) reads: it names those inputs' versions and
    that similarity."""
    if document is None:
        return False
    inputs = document.get("inputs") or {}
    return (
        (inputs.get("target") or {}).get("version_id"),
        (inputs.get("template") or {}).get("version_id"),
        document.get("source_similarity"),
    ) == (pinned.target.version_id, pinned.template.version_id, pinned.similarity)
