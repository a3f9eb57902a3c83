"""Running one complete pair: read both inputs, preflight them, merge once, write outputs.

Expected outcomes (a permanent failure) are returned as `Outcome`s; only what should be
retried later is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from portrait_fusion.api.call_ahead import CallAhead
from portrait_fusion.api.fusion_api import MergeRequest
from portrait_fusion.api.paid_calls import pair_key_of
from portrait_fusion.aws.pair_records import Claim, MergedVersion
from portrait_fusion.aws.storage import ObjectRef, StoredObject
from portrait_fusion.core.errors import Disposition, FusionError
from portrait_fusion.core.observability import count, count_failure, logger, measure
from portrait_fusion.core.settings import Settings
from portrait_fusion.guards.api_pairs import ApiPairRegister
from portrait_fusion.guards.call_budget import held_back, tenant_of
from portrait_fusion.guards.idempotency import IdempotencyGuard
from portrait_fusion.guards.reuse import EarlierResult, ResultReuse, fingerprint
from portrait_fusion.images import preflight
from portrait_fusion.pairs.correlation import correlation_id
from portrait_fusion.pairs.payer import Payer
from portrait_fusion.pairs.similarity import resolve_similarity
from portrait_fusion.pipeline.admission import claimed_version, has_ended, pinned_to_claim
from portrait_fusion.pipeline.invocation import Invocation
from portrait_fusion.pipeline.outcome import Outcome, PairRequest, Status
from portrait_fusion.pipeline.outputs import OutputWriter
from portrait_fusion.pipeline.pair_inputs import (
    Inputs,
    Uploads,
    idempotency_key,
    prepare_uploads,
    timed,
)
from portrait_fusion.pipeline.ports import FusionApi, Storage
from portrait_fusion.results.result_document import PairRecord

T = TypeVar("T")

# Seconds kept back from the API's budget so the outputs can still be written.
OUTPUT_RESERVE_SECONDS = 3.0
# A pair the Pair API did not create has no record to claim: every version of it may run.
_OUTSIDE_THE_API = Claim(granted=True, holder=None)


@dataclass(frozen=True)
class Prepared:
    """A pair's uploads after preflight, and what re-use found for their request."""

    uploads: Uploads
    reuse_key: str | None = None  # None: re-use is off
    earlier: EarlierResult | None = None


@dataclass(frozen=True)
class PlannedCall:
    """A pair's API call as known before it is due: the pair version the paid-call bound
    counts against, whose budgets it spends, and what was started ahead for it."""

    pair_key: str
    payer: Payer
    ahead: CallAhead


@dataclass(frozen=True)
class PairRun:
    """Runs a complete pair at most once per pair version (the idempotency guard's job)."""

    settings: Settings
    storage: Storage
    api: FusionApi
    guard: IdempotencyGuard
    executor: ThreadPoolExecutor
    outputs: OutputWriter
    reuse: ResultReuse | None
    api_pairs: ApiPairRegister | None = None

    def run(self, request: PairRequest, invocation: Invocation) -> Outcome:
        """Process a complete pair; return its document, raise what should be retried."""
        logger.thread_safe_append_keys(pair_id=request.pair_id)
        record = PairRecord(request.pair_id, request.target, request.template, invocation.function)
        try:
            inputs = self._read(record, request)
        except FusionError as exc:
            if exc.disposition is not Disposition.FAIL:
                raise
            return self.outputs.failed(record, exc)
        # Preflight and the re-use lookup, and what the API client needs first, run while the
        # idempotency record is written; their outcome is taken (and a rejection recorded)
        # inside the guarded work, as if they had run there.
        identity = idempotency_key(record)
        pair_key = pair_key_of(identity)
        claim = self._claim(request, record, pair_key)
        if not claim.granted:
            return self._refused(request, record, claim.holder, invocation)
        owner = request.api_pair.owner if request.api_pair else None
        payer = Payer(tenant_of(self.settings.pair_pattern, record.target.key), owner)
        call = PlannedCall(pair_key, payer, self.api.read_ahead(pair_key, payer))
        try:
            with self._in_background(lambda: self._prepare(record, inputs, owner)) as ready:
                guarded = self.guard.run(
                    identity, lambda: self._merge(record, ready.result, call, invocation)
                )
        finally:
            call.ahead.close()
            # What was sent beside the guard's last write: the completion event, the re-use
            # record.
            for sending in record.sending:
                sending.result()
        if guarded.replayed:
            logger.info(
                "pair already done: returning its stored document",
                extra={"status": guarded.document["status"]},
            )
            count("PairsReplayed")
        return Outcome.of(guarded.document)

    def _read(self, record: PairRecord, request: PairRequest) -> Inputs:
        """Both inputs (read at once: S3 latency is paid once), and what their heads say."""
        with (
            timed(record, "read"),
            self._in_background(lambda: self._fetch(request.template)) as template,
        ):
            inputs = Inputs(self._fetch(request.target), template.result())
        record.heads = {"target": inputs.target.head, "template": inputs.template.head}
        metadata = inputs.target.head.metadata, inputs.template.head.metadata
        record.source_similarity = resolve_similarity(
            request.similarity, *metadata, self.settings.default_source_similarity
        )
        record.correlation_id = correlation_id(*metadata)
        return inputs

    def _prepare(self, record: PairRecord, inputs: Inputs, owner: str | None) -> Prepared:
        """Preflight both inputs, then (with re-use on) look for an identical request's
        result among those `owner` (the Pair API owner, None for a pair uploaded straight to
        the bucket) may draw on."""
        uploads = prepare_uploads(record, inputs, self.settings)
        if self.reuse is None:  # the digest of both inputs is only needed for re-use
            return Prepared(uploads)
        key = fingerprint(
            uploads.target, uploads.template, record.source_similarity, self._scope(owner)
        )
        return Prepared(uploads, key, self.reuse.find(key))

    def _merge(
        self,
        record: PairRecord,
        prepared: Callable[[], Prepared],
        call: PlannedCall,
        invocation: Invocation,
    ) -> dict[str, Any]:
        """Take the preflight's verdict, call the API (or re-use an identical request's
        result), write the outputs: returns the document (either status)."""
        reuse_key = None
        try:
            ready = prepared()
            uploads, reuse_key, earlier = ready.uploads, ready.reuse_key, ready.earlier
            if earlier:
                with timed(record, "output"):
                    document = self.outputs.copied(record, earlier)
                count("PairsReused")
                count("PairsSucceeded")
                logger.info(
                    "identical request: result re-used",
                    extra={
                        "reused_from": earlier.pair_id,
                        "reused_version": earlier.entry.get("version_id"),
                    },
                )
                return document
            with timed(record, "api"):
                request = MergeRequest(
                    uploads.target,
                    uploads.template,
                    record.source_similarity,
                    pair_key=call.pair_key,
                    payer=call.payer,
                    ahead=call.ahead,
                )
                result = self.api.merge(
                    request,
                    seconds_left=lambda: invocation.seconds_left() - OUTPUT_RESERVE_SECONDS,
                )
            record.api = {
                "request_id": result.request_id,
                "log_id": result.log_id,
                "attempts": result.attempts,
                "latency_ms": result.latency_ms,
                "unusable_request_ids": list(result.unusable_request_ids),
            }
            measure("ApiLatency", result.latency_ms, unit="Milliseconds")
            count("ApiAttempts", result.attempts)
            with timed(record, "output"):
                document = self.outputs.succeeded(record, result)
        except FusionError as exc:
            if exc.disposition is not Disposition.FAIL:
                held_back(exc)
                count_failure("PairsHandedBack", exc.code)
                raise
            return self.outputs.failed(record, exc).document or {}
        if self.reuse is not None and reuse_key is not None and record.result is not None:
            # Beside the idempotency record's completion, not after result.json.
            record.sending.append(
                self.executor.submit(self.reuse.remember, reuse_key, record.pair_id, record.result)
            )
        count("PairsSucceeded")
        logger.info(
            "pair merged", extra={"result_key": document["result"]["key"], "api": record.api}
        )
        return document

    def _claim(self, request: PairRequest, record: PairRecord, pair_key: str) -> Claim:
        """Whether this version of the pair may run: any pair outside the Pair API; an API
        pair only for the one version its record is claimed for."""
        if request.api_pair is None or self.api_pairs is None:
            return _OUTSIDE_THE_API
        return self.api_pairs.claim(request.pair_id, claimed_version(record, pair_key))

    def _refused(
        self,
        request: PairRequest,
        record: PairRecord,
        holder: MergedVersion | None,
        invocation: Invocation,
    ) -> Outcome:
        """A version the pair is not claimed for buys nothing (logged and counted). Until
        the claimed version has ended, its delivery runs that version instead: a merge of it
        that was handed back is retried whatever was posted since."""
        count("UploadsAfterMerge")
        logger.warning(
            "upload to a pair claimed for other uploads (or erased): it buys nothing",
            extra={"target": request.target.key, "template": request.template.key},
        )
        pinned = pinned_to_claim(request, record, holder)
        if pinned is None or has_ended(self.outputs.stored_document(record), pinned):
            return Outcome(
                Status.SKIPPED, request.pair_id, detail="the pair was merged from other uploads"
            )
        logger.info(
            "the version the pair is claimed for has not ended: running it",
            extra={"target": pinned.target.version_id, "template": pinned.template.version_id},
        )
        return self.run(pinned, invocation)

    def _scope(self, owner: str | None) -> str | None:
        """The owner whose results a re-use may draw on (None: pairs without one, or every
        pair when REUSE_ACROSS_OWNERS is set)."""
        return None if self.settings.reuse_across_owners else owner

    def _fetch(self, ref: ObjectRef) -> StoredObject:
        return self.storage.fetch(ref, preflight.size_limit(auto_fit=self.settings.auto_fit))

    @contextmanager
    def _in_background(self, work: Callable[[], T]) -> Iterator[Future[T]]:
        """`work` on the pool for the block's duration; cancelled if the block never needed
        it (a replay, or a pair in progress elsewhere)."""
        future = self.executor.submit(work)
        try:
            yield future
        finally:
            future.cancel()
