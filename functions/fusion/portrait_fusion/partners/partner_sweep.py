"""The partner-timeout sweep: a half whose partner is overdue ends as a `failed` document
(`ERROR_PARTNER_MISSING`) and a `Pair Expired` event.

Only markers that are due are looked at (see `pending_partners`). A partner that arrives
later still completes the pair: the pipeline's document replaces the expired one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from portrait_fusion.aws.storage import ObjectHead, ObjectRef, S3Storage
from portrait_fusion.core.errors import FusionError, PairingError
from portrait_fusion.core.observability import count, logger
from portrait_fusion.core.settings import Settings
from portrait_fusion.pairs.correlation import correlation_id
from portrait_fusion.pairs.pairing import PairNaming, Role
from portrait_fusion.partners.pending_partners import Marker, PendingPartners
from portrait_fusion.results.completion_events import (
    PARTNER_MISSING,
    EventPublisher,
    completion_event,
)
from portrait_fusion.results.result_document import FunctionInfo, PairRecord, encode

# Stop taking markers with less time left than this; the next run goes on from there.
MIN_SECONDS_PER_MARKER = 5.0


class Verdict:
    """What the sweep did with one marker (the keys of its summary)."""

    EXPIRED = "expired"  # failed document written, Pair Expired published
    PARTNERED = "partnered"  # the partner came: the pipeline has the pair
    SUPERSEDED = "superseded"  # the half was uploaded again since (a newer marker waits)
    GONE = "gone"  # the half was deleted
    ALREADY_DONE = "already_done"  # a result document exists: left as it is


@dataclass(frozen=True)
class SweepContext:
    """The invocation running the sweep."""

    function: FunctionInfo
    seconds_left: Callable[[], float]


class PartnerSweep:
    """Expires the lone halves that are due."""

    def __init__(
        self,
        settings: Settings,
        storage: S3Storage,
        pending: PendingPartners,
        events: EventPublisher,
    ) -> None:
        self._settings = settings
        self._storage = storage
        self._pending = pending
        self._events = events
        self._naming = PairNaming(settings.pair_pattern)

    def run(self, context: SweepContext) -> dict[str, int]:
        """Deal with every due marker while time lasts; how many ended which way."""
        summary: Counter[str] = Counter()
        for marker in self._pending.due():
            if context.seconds_left() < MIN_SECONDS_PER_MARKER:
                logger.info("sweep out of time; the next run goes on", extra=dict(summary))
                break
            verdict = self._settle(marker, context.function)
            self._pending.forget(marker)
            summary[verdict] += 1
        count("PairsExpired", summary[Verdict.EXPIRED])
        count("LoneHalvesSettled", sum(summary.values()))
        logger.info("partner sweep done", extra={"verdicts": dict(summary)})
        return dict(summary)

    def _settle(self, marker: Marker, function: FunctionInfo) -> str:
        half = self._naming.parse(marker.half.key)
        if half is None:  # PAIR_PATTERN changed since: nothing to pair any more
            return Verdict.GONE
        keys = self._storage.list_keys(marker.half.bucket, half.listing_prefix)
        try:
            if self._naming.assemble(half.pair_id, keys) is not None:
                return Verdict.PARTNERED
        except PairingError:
            return Verdict.PARTNERED  # ambiguous: the pipeline already wrote that outcome
        if marker.half.key not in keys:
            return Verdict.GONE
        try:
            stored = self._storage.fetch(ObjectRef(marker.half.bucket, marker.half.key), 0)
        except FusionError:
            return Verdict.GONE
        if marker.half.version_id and stored.head.version_id != marker.half.version_id:
            return Verdict.SUPERSEDED
        return self._expire(marker, stored.head, function)

    def _expire(self, marker: Marker, head: ObjectHead, function: FunctionInfo) -> str:
        role = Role(marker.role)
        missing = ObjectRef(marker.half.bucket, "")
        target, template = (head.ref, missing) if role is Role.TARGET else (missing, head.ref)
        record = PairRecord(marker.pair_id, target, template, function)
        record.heads[role.value] = head
        record.correlation_id = (
            correlation_id(head.metadata, {})
            if role is Role.TARGET
            else correlation_id({}, head.metadata)
        )
        error = PairingError(
            f"the {role.partner.value} of pair {marker.pair_id!r} did not arrive within "
            f"{_minutes(self._settings.partner_timeout_minutes)} of the {role.value} "
            f"({marker.half.uri}, seen {marker.seen_at})",
            code=PARTNER_MISSING,
        )
        document = record.to_document(error)
        key = f"{self._settings.output_prefix}{marker.pair_id}/result.json"
        bucket = self._settings.output_bucket
        # Never over a document that exists: a result, or an earlier expiry, stays as it is.
        stored = self._storage.write_if_absent(bucket, key, encode(document), "application/json")
        if stored is None:
            return Verdict.ALREADY_DONE
        logger.warning("partner missing: pair expired", extra={"pair_id": marker.pair_id})
        self._events.publish(completion_event(document, stored))
        return Verdict.EXPIRED


def _minutes(minutes: float) -> str:
    """`1 minute`, `1.5 minutes`, `1440 minutes`."""
    return f"{minutes:g} minute" + ("" if minutes == 1 else "s")
