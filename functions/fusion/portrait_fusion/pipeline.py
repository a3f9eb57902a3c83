"""What happens to a pair: find it, check it, merge it once, store the result.

Expected outcomes (a lone half, a skipped key, a permanent failure) are returned as
`Outcome`s; only what should be retried later is raised.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from portrait_fusion import preflight
from portrait_fusion.call_budget import calls_for, tenant_of
from portrait_fusion.completion_events import EventPublisher, NoEvents, completion_event
from portrait_fusion.correlation import correlation_id
from portrait_fusion.errors import (
    ConfigurationError,
    Disposition,
    FusionError,
    InvalidEventError,
    PairingError,
    StorageError,
)
from portrait_fusion.fusion_api import FusionApiClient, FusionResult, Upload
from portrait_fusion.idempotency import OnceGuard
from portrait_fusion.observability import count, count_failure, logger
from portrait_fusion.paid_calls import pair_key_of
from portrait_fusion.pairing import Half, PairNaming, Role
from portrait_fusion.pending_partners import PendingPartners
from portrait_fusion.result_document import FunctionInfo, PairRecord, encode
from portrait_fusion.result_guard import keeps_stored_success, parse_document
from portrait_fusion.reuse import EarlierResult, ResultReuse, fingerprint
from portrait_fusion.settings import Settings
from portrait_fusion.similarity import resolve_similarity
from portrait_fusion.storage import ObjectRef, S3Storage, StoredObject

# Seconds kept back from the API's budget so the outputs can still be written.
OUTPUT_RESERVE_SECONDS = 3.0
_OUTPUT_WRITE_TRIES = 3
_DOCUMENT_MAX_BYTES = 1 << 20


class Status(StrEnum):
    """How one event ended for the pipeline."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    WAITING = "waiting"  # a lone half: its partner has not arrived yet
    SKIPPED = "skipped"  # a key outside the naming convention


@dataclass(frozen=True)
class Outcome:
    """The end of one event: for a pair, its result document."""

    status: Status
    pair_id: str | None = None
    document: dict[str, Any] | None = None
    detail: str = ""

    @classmethod
    def of(cls, document: dict[str, Any]) -> Outcome:
        return cls(Status(document["status"]), document["pair_id"], document)


@dataclass
class _Shared:
    """One pair's outcome within an invocation, and the lock its halves queue on."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    result: Outcome | FusionError | None = None


@dataclass(frozen=True)
class Invocation:
    """The Lambda invocation a pair runs in: who it is and how much time is left."""

    function: FunctionInfo
    seconds_left: Callable[[], float]
    _pairs: dict[tuple[str, ...], _Shared] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def once(self, key: tuple[str, ...], run: Callable[[], Outcome]) -> Outcome:
        """Run `run` once per `key` in this invocation; every later caller (the pair's other
        half, perhaps on another thread) gets the same outcome, or the same error raised."""
        with self._lock:
            shared = self._pairs.setdefault(key, _Shared())
        with shared.lock:
            if shared.result is None:
                try:
                    shared.result = run()
                except FusionError as exc:
                    shared.result = exc
        if isinstance(shared.result, FusionError):
            raise shared.result
        return shared.result


@dataclass(frozen=True)
class PairRequest:
    """Two inputs to merge, and the similarity the request asked for (if any)."""

    pair_id: str
    target: ObjectRef
    template: ObjectRef
    similarity: object | None = None


class Pipeline:
    """Turns object events and pair requests into outcomes."""

    def __init__(
        self,
        settings: Settings,
        storage: S3Storage,
        api: FusionApiClient,
        once: OnceGuard,
        executor: ThreadPoolExecutor,
        *,
        events: EventPublisher | None = None,
        pending: PendingPartners | None = None,
        reuse: ResultReuse | None = None,
    ) -> None:
        self._events = events or NoEvents()
        self._pending = pending
        self._settings = settings
        self._reuse = reuse
        self._storage = storage
        self._api = api
        self._once = once
        self._executor = executor
        self.naming = PairNaming(settings.pair_pattern)

    # -- entry: one uploaded object ------------------------------------------------------
    def on_object(
        self, ref: ObjectRef, invocation: Invocation, similarity: object | None = None
    ) -> Outcome:
        """Handle one created object: pair it with its partner if both halves are there."""
        half = self.naming.parse(ref.key)
        if half is None:
            count("ObjectsSkipped")
            # INFO, not DEBUG: a misspelled role (`templat.png`) must leave a trace.
            logger.info(
                "skipped: key does not match PAIR_PATTERN",
                extra={"key": ref.key, "pair_pattern": self._settings.pair_pattern},
            )
            return Outcome(Status.SKIPPED, detail=f"{ref.key!r} does not match PAIR_PATTERN")
        logger.thread_safe_append_keys(pair_id=half.pair_id)
        keys = self._storage.list_keys(ref.bucket, half.listing_prefix)
        record = _record_for(half, ref, invocation)
        try:
            pair = self.naming.assemble(half.pair_id, keys)
        except FusionError as exc:
            return self._finish_failed(record, exc)
        if pair is None:
            count("LoneHalves")
            logger.info(
                "lone half: waiting for its partner",
                extra={"role": half.role.value, "key": ref.key},
            )
            if self._pending is not None:
                self._pending.record(half, ref)
            return Outcome(
                Status.WAITING, half.pair_id, detail=f"waiting for the {half.role.partner.value}"
            )
        request = PairRequest(
            pair.pair_id,
            _pinned(ref, pair.target),
            _pinned(ref, pair.template),
            similarity,
        )
        # Both halves of a pair in one batch share one run (and one outcome).
        return invocation.once(
            (ref.bucket, pair.target, pair.template), lambda: self.run_pair(request, invocation)
        )

    def on_prefix(
        self, bucket: str, prefix: str, invocation: Invocation, similarity: object | None = None
    ) -> Outcome:
        """Handle an ad-hoc request naming a pair by its folder (`s3://b/incoming/abc/`)."""
        halves = [
            half
            for key in self._storage.list_keys(bucket, prefix)
            if (half := self.naming.parse(key)) is not None
        ]
        pair_ids = sorted({half.pair_id for half in halves})
        if len(pair_ids) != 1:
            raise InvalidEventError(
                f"s3://{bucket}/{prefix} must hold exactly one pair matching PAIR_PATTERN, "
                f"found {len(pair_ids)}" + (f": {', '.join(pair_ids[:5])}" if pair_ids else "")
            )
        return self.on_object(ObjectRef(bucket, halves[0].key), invocation, similarity)

    # -- the pair itself -------------------------------------------------------------------
    def run_pair(self, request: PairRequest, invocation: Invocation) -> Outcome:
        """Process a complete pair once; return its document, raise what should be retried."""
        logger.thread_safe_append_keys(pair_id=request.pair_id)
        record = PairRecord(request.pair_id, request.target, request.template, invocation.function)
        try:
            with _timed(record, "read"):
                inputs = self._parallel(self._fetch, request.target, request.template)
            record.heads = {"target": inputs[0].head, "template": inputs[1].head}
            record.source_similarity = resolve_similarity(
                request.similarity,
                inputs[0].head.metadata,
                inputs[1].head.metadata,
                self._settings.default_source_similarity,
            )
            record.correlation_id = correlation_id(inputs[0].head.metadata, inputs[1].head.metadata)
        except FusionError as exc:
            if exc.disposition is not Disposition.FAIL:
                raise
            return self._finish_failed(record, exc)

        # Preflight runs while the idempotency record is written; its verdict is taken (and
        # a rejection recorded) inside the guarded work, as if it had run there.
        prepared = self._executor.submit(self._prepare_inputs, record, inputs)
        fresh = False

        def work() -> dict[str, Any]:
            nonlocal fresh
            fresh = True
            return self._merge(record, prepared.result, invocation)

        try:
            document = self._once.run(_idempotency_key(record), work)
        finally:
            prepared.cancel()
        if not fresh:
            logger.info(
                "pair already done: returning its stored document",
                extra={"status": document["status"]},
            )
            count("PairsReplayed")
        return Outcome.of(document)

    def _merge(
        self,
        record: PairRecord,
        prepared: Callable[[], tuple[Upload, Upload]],
        invocation: Invocation,
    ) -> dict[str, Any]:
        """Take the preflight's verdict, call the API, write the outputs: returns the document
        (either status)."""
        try:
            target, template = prepared()
            reuse_key = fingerprint(target, template, record.source_similarity)
            if self._reuse is not None and (earlier := self._reuse.find(reuse_key)):
                return self._copy_earlier(record, earlier)
            tenant = tenant_of(self._settings.pair_pattern, record.target.key)
            with _timed(record, "api"), calls_for(tenant):
                result = self._api.merge(
                    target,
                    template,
                    record.source_similarity,
                    seconds_left=lambda: invocation.seconds_left() - OUTPUT_RESERVE_SECONDS,
                    pair_key=pair_key_of(_idempotency_key(record)),
                )
            record.api = {
                "request_id": result.request_id,
                "log_id": result.log_id,
                "attempts": result.attempts,
                "latency_ms": result.latency_ms,
                "unusable_request_ids": list(result.unusable_request_ids),
            }
            count("ApiLatency", result.latency_ms, unit="Milliseconds")
            count("ApiAttempts", result.attempts)
            with _timed(record, "output"):
                self._write_result(record, result)
                document = record.to_document()
                self._write_document(record, document)
            self._announce(record, document)
        except FusionError as exc:
            if exc.disposition is not Disposition.FAIL:
                count_failure("PairsHandedBack", exc.code)
                raise
            return self._finish_failed(record, exc).document or {}
        if self._reuse is not None and record.result is not None:
            self._reuse.remember(reuse_key, record.pair_id, record.result)
        count("PairsSucceeded")
        logger.info(
            "pair merged", extra={"result_key": document["result"]["key"], "api": record.api}
        )
        return document

    def _fetch(self, ref: ObjectRef) -> StoredObject:
        return self._storage.fetch(ref, preflight.size_limit(auto_fit=self._settings.auto_fit))

    def _prepare_inputs(
        self, record: PairRecord, inputs: list[StoredObject]
    ) -> tuple[Upload, Upload]:
        for role, stored in zip(Role, inputs, strict=True):
            preflight.check_size(role, stored.head.size, auto_fit=self._settings.auto_fit)
        with _timed(record, "preflight"):
            prepared = [
                # check_size refused every input too large to have been downloaded
                preflight.prepare(role, stored.data or b"", auto_fit=self._settings.auto_fit)
                for role, stored in zip(Role, inputs, strict=True)
            ]
        uploads = []
        for role, image in zip(Role, prepared, strict=True):
            record.images[role.value] = image.info
            if image.adjustment:
                record.adjustments[role.value] = image.adjustment
            fmt = image.info.format
            uploads.append(Upload(f"{role.value}.{fmt.extension}", image.data, fmt.content_type))
        return uploads[0], uploads[1]

    # -- outputs ---------------------------------------------------------------------------
    def _output_key(self, record: PairRecord, name: str) -> str:
        key = f"{self._settings.output_prefix}{record.pair_id}/{name}"
        bucket = self._settings.output_bucket
        input_bucket = self._settings.input_bucket or record.target.bucket
        # Never write where an upload would trigger the function again.
        if bucket == input_bucket and (
            key.startswith(self._settings.input_prefix) or self.naming.parse(key) is not None
        ):
            raise ConfigurationError(
                f"refusing to write s3://{bucket}/{key}: it would trigger the function again"
            )
        return key

    def _write_result(self, record: PairRecord, result: FusionResult) -> None:
        fmt = result.info.format
        key = self._output_key(record, f"result.{fmt.extension}")
        self._put(key, result.image, fmt.content_type)
        record.result = {
            "bucket": self._settings.output_bucket,
            "key": key,
            "content_type": fmt.content_type,
            "size": len(result.image),
            "width": result.info.width,
            "height": result.info.height,
            "sha256": hashlib.sha256(result.image).hexdigest(),
        }

    def _copy_earlier(self, record: PairRecord, earlier: EarlierResult) -> dict[str, Any]:
        """Succeed with an earlier pair's result for the same request: no API call."""
        with _timed(record, "output"):
            name = earlier.entry["key"].rsplit("/", 1)[-1]
            key = self._output_key(record, name)
            self._put(key, earlier.image, earlier.entry["content_type"])
            record.result = {**earlier.entry, "bucket": self._settings.output_bucket, "key": key}
            record.reused_from = earlier.pair_id
            document = record.to_document()
            self._write_document(record, document)
        self._announce(record, document)
        count("PairsReused")
        count("PairsSucceeded")
        logger.info("identical request: result re-used", extra={"reused_from": earlier.pair_id})
        return document

    def _write_document(self, record: PairRecord, document: dict[str, Any]) -> None:
        self._put(self._output_key(record, "result.json"), encode(document), "application/json")

    def _announce(self, record: PairRecord, document: dict[str, Any]) -> None:
        """Publish the outcome whose document was just written (a replay never gets here)."""
        key = self._output_key(record, "result.json")
        self._events.publish(completion_event(document, self._settings.output_bucket, key))

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        # A result was billed already: try hard before handing the pair back.
        for attempt in range(1, _OUTPUT_WRITE_TRIES + 1):
            try:
                self._storage.write(self._settings.output_bucket, key, body, content_type)
                return
            except StorageError:
                if attempt == _OUTPUT_WRITE_TRIES:
                    raise
                time.sleep(0.2 * 2**attempt)

    def _finish_failed(self, record: PairRecord, error: FusionError) -> Outcome:
        document = record.to_document(error)
        count_failure("PairsFailed", error.code)
        if error.stage.value == "preflight":
            count("PreflightRejects")
        logger.warning("pair failed", extra={"error": document["error"]})
        if keeps_stored_success(self._stored_document(record), record):
            count("FailuresNotStored")
            logger.warning("failure not stored: the pair succeeded from these inputs already")
            return Outcome.of(document)
        self._write_document(record, document)
        self._announce(record, document)
        return Outcome.of(document)

    def _stored_document(self, record: PairRecord) -> dict[str, Any] | None:
        ref = ObjectRef(self._settings.output_bucket, self._output_key(record, "result.json"))
        if not self._storage.exists(ref):
            return None
        try:
            return parse_document(self._storage.fetch(ref, _DOCUMENT_MAX_BYTES).data)
        except PairingError:
            return None  # deleted in between

    def _parallel(self, fn: Callable[[Any], Any], first: Any, second: Any) -> list[Any]:
        """Run `fn` on two inputs at once: S3 latency is paid once, not twice."""
        other = self._executor.submit(fn, second)
        try:
            mine = fn(first)
        finally:
            theirs = other.result()
        return [mine, theirs]


def _pinned(ref: ObjectRef, key: str) -> ObjectRef:
    """The half `key` names: at the version `ref` pins if it is that half, else the latest."""
    return ref if ref.key == key else ObjectRef(ref.bucket, key)


def _record_for(half: Half, ref: ObjectRef, invocation: Invocation) -> PairRecord:
    """A record for a pair known only by one half (for pairing failures)."""
    other = ObjectRef(ref.bucket, "")
    target, template = (ref, other) if half.role is Role.TARGET else (other, ref)
    return PairRecord(half.pair_id, target, template, invocation.function)


def _idempotency_key(record: PairRecord) -> dict[str, Any]:
    def identity(role: str) -> dict[str, Any]:
        head = record.heads[role]
        return {
            "bucket": head.ref.bucket,
            "key": head.ref.key,
            "etag": head.etag,
            "version_id": head.version_id,
        }

    return {
        "pair_id": record.pair_id,
        "target": identity("target"),
        "template": identity("template"),
        "source_similarity": record.source_similarity,
    }


class _timed:
    """Adds a stage's wall time (ms) to the record's `timings_ms`."""

    def __init__(self, record: PairRecord, stage: str) -> None:
        self._record, self._stage = record, stage

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = round((time.perf_counter() - self._start) * 1000)
        self._record.timings_ms[self._stage] = self._record.timings_ms.get(self._stage, 0) + elapsed
