"""Each entry point as one method: outcomes and errors mapped to what its caller
expects (SQS item failures, a raise for async S3/EventBridge retries, a document, or Batch
Operations result codes). The error classification itself lives in one place: `Disposition`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from portrait_fusion.api.call_slot import CallSlot
from portrait_fusion.aws.storage import ObjectRef
from portrait_fusion.core.errors import (
    Disposition,
    FusionError,
    InvalidEventError,
    OutOfTimeError,
    PairInProgressError,
)
from portrait_fusion.core.observability import count, logger
from portrait_fusion.entry.events import (
    EventKind,
    batch_job,
    created_objects,
    kind_of,
    parse_s3_uri,
    sqs_notification,
)
from portrait_fusion.entry.hand_back import HandBack
from portrait_fusion.entry.message_feed import (
    MIN_SECONDS_TO_START,
    Fed,
    MessageFeed,
    PullQueue,
    Settled,
)
from portrait_fusion.pipeline.invocation import Invocation
from portrait_fusion.pipeline.key_resolution import KeyResolver, ReportedObject
from portrait_fusion.pipeline.outcome import Outcome, PairRequest, Status
from portrait_fusion.pipeline.pipeline import Pipeline

# Messages of an SQS invocation worked on at once: one calling the API, one getting ready.
SQS_WORKERS = 2


@dataclass(frozen=True)
class EntryPoints:
    """Dispatches an event to the pipeline and shapes the answer for its source."""

    pipeline: Pipeline
    batch_executor: ThreadPoolExecutor  # SQS_WORKERS threads
    resolver: KeyResolver
    hand_back: HandBack
    pull: PullQueue | None = None  # where SQS invocations pull their next messages; None: off
    slot: CallSlot = field(default_factory=CallSlot)  # the API client's
    pull_seconds: float = MIN_SECONDS_TO_START  # the least time left to pull with

    def handle(self, event: Any, invocation: Invocation) -> dict[str, Any]:
        """Handle any supported event kind."""
        kind = kind_of(event)
        logger.append_keys(event_kind=kind.value)
        logger.thread_safe_remove_keys(["pair_id"])  # the last invocation's, on this thread
        if kind is EventKind.SQS:
            return self.sqs_batch(event, invocation)
        if kind is EventKind.BATCH_OPERATIONS:
            return self.batch_operations(event, invocation)
        if kind is EventKind.AD_HOC:
            return self.ad_hoc(event, invocation)
        return self.notification(event, invocation)

    def sqs_batch(self, event: dict[str, Any], invocation: Invocation) -> dict[str, Any]:
        """SQS batch of S3 notifications: report only the batch's messages to retry.

        Two messages are worked on at once, so that one pair's reads, preflight and writes
        overlap another pair's API call; the API client lets one call through at a time.
        After the batch, the queue's next messages are pulled and settled here
        (`message_feed`), until the queue has none or time runs short.
        """
        records = event["Records"]
        count("MessagesReceived", len(records))
        feed = MessageFeed(records, self.pull, invocation.seconds_left, self.pull_seconds)
        with self.slot.listening(feed.call_started):
            workers = [
                self.batch_executor.submit(self._work, feed, invocation) for _ in range(SQS_WORKERS)
            ]
            retry = [message_id for worker in workers for message_id in worker.result()]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in retry]}

    def _work(self, feed: MessageFeed, invocation: Invocation) -> list[str]:
        """One worker: messages from `feed` until it has none; the batch's to retry."""
        retry = []
        while (fed := feed.take(self.slot)) is not None:
            settled = self._sqs_message(fed, invocation)
            feed.settle(fed, settled)
            if settled is not Settled.DONE and not fed.pulled:
                retry.append(fed.record["messageId"])
        return retry

    def _sqs_message(self, fed: Fed, invocation: Invocation) -> Settled:
        """Handle one SQS message; say whether it is done or must come back later."""
        record = fed.record
        message_id: str = record["messageId"]
        logger.thread_safe_remove_keys(["pair_id"])  # a pool thread may carry the last one's
        if not fed.first and invocation.seconds_left() < MIN_SECONDS_TO_START:
            logger.warning("out of time: handing message back", extra={"message_id": message_id})
            self.hand_back.schedule(record, OutOfTimeError("too little time left to start"))
            return Settled.RETRY
        try:
            notification = sqs_notification(record.get("body", ""))
            for reported in created_objects(notification):
                self._on_reported(reported, invocation)
        except FusionError as exc:
            # A malformed message also goes back: after maxReceiveCount it rests in the
            # DLQ, where someone can see it, instead of being silently dropped.
            _log_handed_back(exc, message_id=message_id)
            self.hand_back.schedule(record, exc)
            return Settled.HOLD if exc.disposition is Disposition.HOLD else Settled.RETRY
        except Exception:
            # A bug must not take the rest of the batch down with it.
            logger.exception(
                "unexpected error: handing message back", extra={"message_id": message_id}
            )
            return Settled.LEFT
        return Settled.DONE

    def notification(self, event: dict[str, Any], invocation: Invocation) -> dict[str, Any]:
        """S3 notification or EventBridge event invoked asynchronously: raise to be retried."""
        outcomes: list[dict[str, Any]] = []
        retry: FusionError | None = None
        for reported in created_objects(event):
            try:
                outcomes.append(_summary(self._on_reported(reported, invocation)))
            except FusionError as exc:
                if exc.disposition is Disposition.FAIL:
                    raise
                _log_handed_back(exc, key=reported.key)
                retry = retry or exc
        if retry is not None:
            raise retry  # Lambda's async retries and on-failure destination take it from here
        return {"outcomes": outcomes}

    def ad_hoc(self, event: dict[str, Any], invocation: Invocation) -> dict[str, Any]:
        """A console or CLI invocation: run the pair synchronously, return its document."""
        similarity = event.get("source_similarity")
        if "pair" in event:
            bucket, prefix = parse_s3_uri(event["pair"], "pair")
            outcome = self.pipeline.on_prefix(bucket, prefix, invocation, similarity)
        else:
            target = ObjectRef(*parse_s3_uri(event.get("target"), "target"))
            template = ObjectRef(*parse_s3_uri(event.get("template"), "template"))
            pair_id = event.get("pair_id") or self._pair_id_of(target)
            outcome = self.pipeline.run_pair(
                PairRequest(str(pair_id), target, template, similarity), invocation
            )
        if outcome.document is None:
            raise InvalidEventError(f"pair is not complete: {outcome.detail}")
        return outcome.document

    def _pair_id_of(self, target: ObjectRef) -> str:
        half = self.pipeline.naming.parse(target.key)
        if half is None:
            raise InvalidEventError(
                f"{target.uri} does not match PAIR_PATTERN: give a pair_id in the event"
            )
        return half.pair_id

    def batch_operations(self, event: dict[str, Any], invocation: Invocation) -> dict[str, Any]:
        """S3 Batch Operations: one result per task, Succeeded / Temporary / PermanentFailure."""
        job = batch_job(event)
        results = []
        for index, task in enumerate(job.tasks):
            try:
                if index and invocation.seconds_left() < MIN_SECONDS_TO_START:
                    raise OutOfTimeError("too little time left in this invocation")
                found = self.resolver.resolve(task.ref)
                if found is None:
                    code, text = "PermanentFailure", f"INPUT_NOT_FOUND: {_missing(task.ref)}"
                else:
                    outcome = self.pipeline.on_object(found, invocation, job.source_similarity)
                    code, text = _batch_result(outcome)
            except FusionError as exc:
                _log_handed_back(exc, key=task.ref.key)
                code = (
                    "PermanentFailure"
                    if exc.disposition is Disposition.FAIL
                    else "TemporaryFailure"
                )
                text = str(exc)
            results.append({"taskId": task.task_id, "resultCode": code, "resultString": text})
        return {
            "invocationSchemaVersion": job.schema_version,
            "treatMissingKeysAs": "PermanentFailure",
            "invocationId": job.invocation_id,
            "results": results,
        }

    def _on_reported(self, reported: ReportedObject, invocation: Invocation) -> Outcome:
        """An object an event reports, found in its bucket and handed to the pipeline."""
        found = self.resolver.resolve(reported)
        if found is None:
            return Outcome(Status.SKIPPED, detail=_missing(reported))
        return self.pipeline.on_object(found, invocation)


def _missing(reported: ReportedObject) -> str:
    version = f" at version {reported.version_id}" if reported.version_id else ""
    return f"s3://{reported.bucket}/{reported.raw_key}{version} is not in the bucket"


def _batch_result(outcome: Outcome) -> tuple[str, str]:
    if outcome.status is Status.SKIPPED:
        return "PermanentFailure", outcome.detail
    if outcome.status is Status.FAILED and outcome.document:
        error = outcome.document["error"]
        return "PermanentFailure", f"{error['code']}: {error['message']}"
    if outcome.status is Status.SUCCEEDED and outcome.document:
        return "Succeeded", _result_location(outcome.document["result"])
    return "Succeeded", outcome.detail


def _result_location(result: dict[str, Any]) -> str:
    """Where a result is, with its version: the key alone may hold a later merge's bytes."""
    where = f"s3://{result['bucket']}/{result['key']}"
    version = result.get("version_id")  # absent from documents stored before it existed
    return f"{where} (version {version})" if version else where


def _summary(outcome: Outcome) -> dict[str, Any]:
    summary: dict[str, Any] = {"status": outcome.status.value, "pair_id": outcome.pair_id}
    if outcome.document and outcome.document["error"]:
        summary["error"] = outcome.document["error"]["code"]
    if outcome.detail:
        summary["detail"] = outcome.detail
    return summary


def _log_handed_back(exc: FusionError, **where: str) -> None:
    # Both halves arriving together make a pair "in progress" routinely: not a warning.
    log = logger.info if isinstance(exc, PairInProgressError) else logger.warning
    log(
        "handed back for a later attempt" if exc.retryable else "rejected",
        extra={
            "code": exc.code,
            "reason": exc.message,
            "disposition": exc.disposition.value,
            **where,
        },
    )
