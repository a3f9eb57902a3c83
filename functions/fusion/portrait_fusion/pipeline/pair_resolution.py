"""From an event's object (or folder) to a complete pair, or to why there is none yet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portrait_fusion.aws.storage import ObjectRef
from portrait_fusion.core.errors import FusionError, InvalidEventError
from portrait_fusion.core.observability import count, logger
from portrait_fusion.pairs.pairing import Half, PairNaming, Role
from portrait_fusion.pipeline.invocation import Invocation
from portrait_fusion.pipeline.key_resolution import FoundObject
from portrait_fusion.pipeline.outcome import Outcome, PairRequest, Status
from portrait_fusion.pipeline.outputs import OutputWriter
from portrait_fusion.pipeline.ports import PartnerRegister, Storage
from portrait_fusion.results.result_document import PairRecord


@dataclass(frozen=True)
class PairResolver:
    """Finds the pair an uploaded object belongs to, by listing its partner."""

    naming: PairNaming
    storage: Storage
    outputs: OutputWriter
    pending: PartnerRegister | None

    def from_object(
        self, found: FoundObject, invocation: Invocation, similarity: object = None
    ) -> PairRequest | Outcome:
        """The pair `found` completes; else the outcome of an object that completes none
        (skipped, a lone half waiting, or an ambiguous pair recorded as failed).

        When resolving the event's key listed the pair's folder, the partner is looked for
        in that listing instead of in a second LIST.
        """
        ref, listing = found.ref, found.listing
        half = self.naming.parse(ref.key)
        if half is None:
            count("ObjectsSkipped")
            # INFO, not DEBUG: a misspelled role (`templat.png`) must leave a trace.
            logger.info(
                "skipped: key does not match PAIR_PATTERN",
                extra={"key": ref.key, "pair_pattern": self.naming.pattern},
            )
            return Outcome(Status.SKIPPED, detail=f"{ref.key!r} does not match PAIR_PATTERN")
        logger.thread_safe_append_keys(pair_id=half.pair_id)
        if listing is not None and listing.covers(ref.bucket, half.listing_prefix):
            keys: Sequence[str] = listing.keys
        else:
            keys = self.storage.list_keys(ref.bucket, half.listing_prefix)
        try:
            pair = self.naming.assemble(half.pair_id, keys)
        except FusionError as exc:
            return self.outputs.failed(_record_for(half, ref, invocation), exc)
        if pair is None:
            count("LoneHalves")
            logger.info(
                "lone half: waiting for its partner",
                extra={"role": half.role.value, "key": ref.key},
            )
            if self.pending is not None:
                self.pending.record(half, ref)
            return Outcome(
                Status.WAITING, half.pair_id, detail=f"waiting for the {half.role.partner.value}"
            )
        return PairRequest(
            pair.pair_id, _pinned(ref, pair.target), _pinned(ref, pair.template), similarity
        )

    def one_in_folder(self, bucket: str, prefix: str) -> ObjectRef:
        """A half of the one pair under `s3://bucket/prefix`; refuses none or several."""
        halves = [
            half
            for key in self.storage.list_keys(bucket, prefix)
            if (half := self.naming.parse(key)) is not None
        ]
        pair_ids = sorted({half.pair_id for half in halves})
        if len(pair_ids) != 1:
            raise InvalidEventError(
                f"s3://{bucket}/{prefix} must hold exactly one pair matching PAIR_PATTERN, "
                f"found {len(pair_ids)}" + (f": {', '.join(pair_ids[:5])}" if pair_ids else "")
            )
        return ObjectRef(bucket, halves[0].key)


def _pinned(ref: ObjectRef, key: str) -> ObjectRef:
    """The half `key` names: at the version `ref` pins if it is that half, else the latest."""
    return ref if ref.key == key else ObjectRef(ref.bucket, key)


def _record_for(half: Half, ref: ObjectRef, invocation: Invocation) -> PairRecord:
    """A record for a pair known only by one half (for pairing failures)."""
    other = ObjectRef(ref.bucket, "")
    target, template = (ref, other) if half.role is Role.TARGET else (other, ref)
    return PairRecord(half.pair_id, target, template, invocation.function)
