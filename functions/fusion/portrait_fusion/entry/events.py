"""Reading the events the function is invoked with: S3 notifications (direct, via SQS, via
EventBridge), ad-hoc requests and S3 Batch Operations tasks. Pure functions over dicts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from portrait_fusion.core.errors import InvalidEventError
from portrait_fusion.pipeline.key_resolution import KeyEncoding, ReportedObject


class EventKind(StrEnum):
    """The entry points the function serves."""

    SQS = "sqs"
    S3 = "s3"
    EVENTBRIDGE = "eventbridge"
    AD_HOC = "ad_hoc"
    BATCH_OPERATIONS = "batch_operations"


def kind_of(event: object) -> EventKind:
    """Tell which entry point an event came through; `InvalidEventError` if none."""
    if isinstance(event, dict):
        records = event.get("Records")
        if records == [] and set(event) == {"Records"}:
            # An SQS batch with no messages (Powertools' batch utilities answer it with no
            # failures); an S3 notification always carries a record, so nothing else is empty.
            return EventKind.SQS
        if isinstance(records, list) and records and isinstance(records[0], dict):
            source = records[0].get("eventSource")
            if source == "aws:sqs":
                return EventKind.SQS
            if source == "aws:s3":
                return EventKind.S3
        if event.get("source") == "aws.s3" and "detail" in event:
            return EventKind.EVENTBRIDGE
        if "invocationSchemaVersion" in event and "tasks" in event:
            return EventKind.BATCH_OPERATIONS
        if "pair" in event or "target" in event or "template" in event:
            return EventKind.AD_HOC
    raise InvalidEventError(
        "unrecognised event: expected an SQS batch of S3 notifications, an S3 notification, "
        "an EventBridge 'Object Created' event, an S3 Batch Operations job, or "
        '{"target": "s3://...", "template": "s3://..."} / {"pair": "s3://bucket/prefix/"}'
    )


def created_objects(notification: dict[str, Any]) -> list[ReportedObject]:
    """The objects an S3 notification (or an EventBridge event) reports as created.

    `s3:TestEvent` messages and other event types give an empty list. Keys stay as the
    source wrote them: `KeyResolver` finds the object they mean.
    """
    if notification.get("source") == "aws.s3":
        return _eventbridge_objects(notification)
    refs = []
    for record in notification.get("Records", []) or []:
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record.get("s3") or {}
        try:
            bucket = s3["bucket"]["name"]
            key = str(s3["object"]["key"])
        except (KeyError, TypeError) as exc:
            raise InvalidEventError(f"S3 record without bucket name or object key: {exc}") from exc
        refs.append(ReportedObject(bucket, key, KeyEncoding.FORM))
    return refs


def _eventbridge_objects(event: dict[str, Any]) -> list[ReportedObject]:
    if event.get("detail-type") != "Object Created":
        return []
    detail = event.get("detail") or {}
    try:
        bucket = detail["bucket"]["name"]
        key = str(detail["object"]["key"])
    except (KeyError, TypeError) as exc:
        raise InvalidEventError(
            f"EventBridge event without bucket name or object key: {exc}"
        ) from exc
    return [ReportedObject(bucket, key, KeyEncoding.UNSPECIFIED)]


def sqs_notification(body: str) -> dict[str, Any]:
    """The S3 notification, S3 test message or EventBridge S3 event an SQS message carries:
    as the body itself, or as the `Message` of an SNS envelope (raw delivery off).

    Any other body is an `InvalidEventError`, so the message is handed back (and ends in the
    DLQ) instead of being deleted unread.
    """
    document = _json_object(body, "SQS message body")
    if document.get("Type") == "Notification" and isinstance(document.get("Message"), str):
        document = _json_object(document["Message"], "SNS message in the SQS body")
    if not _is_s3_event(document):
        raise InvalidEventError(
            "SQS message body is not an S3 notification, an SNS envelope of one, or an "
            f"EventBridge S3 event (top-level fields: {sorted(document)[:6]})"
        )
    return document


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise InvalidEventError(f"{what} is not JSON") from exc
    if not isinstance(document, dict):
        raise InvalidEventError(f"{what} is not a JSON object")
    return document


def _is_s3_event(document: dict[str, Any]) -> bool:
    if document.get("Event") == "s3:TestEvent" or document.get("source") == "aws.s3":
        return True
    records = document.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records)
    )


def parse_s3_uri(uri: object, field: str) -> tuple[str, str]:
    """Split `s3://bucket/key` into bucket and key (the key is taken literally)."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise InvalidEventError(f"{field} must be an s3://bucket/key URI, got {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise InvalidEventError(f"{field} must name a bucket and a key, got {uri!r}")
    return bucket, key


@dataclass(frozen=True)
class BatchTask:
    """One S3 Batch Operations task: an object to (re)process."""

    task_id: str
    ref: ReportedObject


@dataclass(frozen=True)
class BatchJob:
    """An S3 Batch Operations invocation, schema 1.0 or 2.0."""

    schema_version: str
    invocation_id: str
    tasks: list[BatchTask]
    source_similarity: object | None


def batch_job(event: dict[str, Any]) -> BatchJob:
    """Read an S3 Batch Operations invocation (keys arrive percent-encoded)."""
    version = str(event.get("invocationSchemaVersion"))
    if version not in {"1.0", "2.0"}:
        raise InvalidEventError(f"unsupported invocationSchemaVersion {version!r}")
    job = event.get("job") or {}
    arguments = job.get("userArguments") or {}
    tasks = []
    for task in event.get("tasks") or []:
        bucket = task.get("s3Bucket") or str(task.get("s3BucketArn", "")).rpartition(":")[2]
        tasks.append(
            BatchTask(
                task_id=str(task.get("taskId", "")),
                ref=ReportedObject(
                    bucket,
                    str(task.get("s3Key", "")),
                    KeyEncoding.PERCENT,
                    task.get("s3VersionId") or None,
                ),
            )
        )
    return BatchJob(
        version, str(event.get("invocationId", "")), tasks, arguments.get("source_similarity")
    )
