"""Reading every kind of event the function can be invoked with."""

from __future__ import annotations

import json

import pytest

from portrait_fusion.core.errors import InvalidEventError
from portrait_fusion.entry.events import (
    EventKind,
    batch_job,
    created_objects,
    kind_of,
    parse_s3_uri,
    sqs_notification,
)
from portrait_fusion.pipeline.key_resolution import KeyEncoding
from tests.conftest import load_event


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("sqs-batch.json", EventKind.SQS),
        ("s3-object-created.json", EventKind.S3),
        ("eventbridge-object-created.json", EventKind.EVENTBRIDGE),
        ("ad-hoc-pair.json", EventKind.AD_HOC),
        ("ad-hoc-objects.json", EventKind.AD_HOC),
        ("batch-operations-1.0.json", EventKind.BATCH_OPERATIONS),
        ("batch-operations-2.0.json", EventKind.BATCH_OPERATIONS),
    ],
)
def test_every_console_event_is_recognised(name: str, kind: EventKind) -> None:
    assert kind_of(load_event(name)) is kind


@pytest.mark.parametrize(
    "event",
    [
        {},
        [],
        "x",
        {"foo": 1},
        # Near an empty batch, but not one: never a silent no-op
        {"Records": [], "foo": 1},
        {"Records": None},
        {"Records": {}},
        {"Records": [1]},
        {"Records": ""},
    ],
)
def test_an_unknown_event_is_refused_with_the_kinds_it_could_be(event: object) -> None:
    with pytest.raises(InvalidEventError, match="expected an SQS batch"):
        kind_of(event)


def test_an_empty_records_list_alone_is_an_empty_sqs_batch() -> None:
    """As Powertools' batch utilities read it; an S3 notification always has a record."""
    assert kind_of({"Records": []}) is EventKind.SQS


def test_sqs_bodies_carry_url_encoded_s3_notifications() -> None:
    event = load_event("sqs-batch.json")
    refs = [
        ref
        for record in event["Records"]
        for ref in created_objects(sqs_notification(record["body"]))
    ]
    assert [r.key for r in refs] == [
        "incoming/demo pair/target.jpg",
        "incoming/demo pair/template.png",
    ]


def test_the_s3_test_event_yields_nothing() -> None:
    assert created_objects(load_event("s3-test-event.json")) == []


def test_eventbridge_object_created() -> None:
    (ref,) = created_objects(load_event("eventbridge-object-created.json"))
    assert ref.key == "incoming/demo pair/template.png"


def test_a_removed_object_is_ignored() -> None:
    event = load_event("s3-object-created.json")
    event["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert created_objects(event) == []


def test_a_non_json_sqs_body_is_invalid() -> None:
    with pytest.raises(InvalidEventError, match="not JSON"):
        sqs_notification("hello")
    with pytest.raises(InvalidEventError, match="object"):
        sqs_notification(json.dumps([1]))


@pytest.mark.parametrize(("version", "bucket_field"), [("1.0", "s3BucketArn"), ("2.0", "s3Bucket")])
def test_batch_operations_jobs(version: str, bucket_field: str) -> None:
    job = batch_job(load_event(f"batch-operations-{version}.json"))
    assert job.schema_version == version
    assert job.tasks[0].ref.bucket == "portrait-fusion-input-123456789012-us-east-1-0a1b2c3d"
    assert job.tasks[0].ref.key == "incoming/demo pair/target.jpg"
    assert job.source_similarity == ("0.6" if version == "2.0" else None)


def test_s3_uris() -> None:
    assert parse_s3_uri("s3://b/a/b c.jpg", "target") == ("b", "a/b c.jpg")
    for bad in ("b/k", "s3://b", "s3:///k", None):
        with pytest.raises(InvalidEventError, match="target"):
            parse_s3_uri(bad, "target")


def test_an_sns_envelope_is_unwrapped() -> None:
    inner = load_event("s3-object-created.json")
    envelope = {"Type": "Notification", "MessageId": "x", "Message": json.dumps(inner)}
    assert sqs_notification(json.dumps(envelope)) == inner


@pytest.mark.parametrize(
    "body",
    [
        {"message": "foo1"},
        {"Records": []},
        {"Records": [{"eventSource": "aws:sqs"}]},
        {"Type": "Notification", "Message": json.dumps({"message": "foo1"})},
    ],
)
def test_a_json_body_that_is_no_s3_event_is_invalid(body: dict[str, object]) -> None:
    with pytest.raises(InvalidEventError, match="not an S3 notification"):
        sqs_notification(json.dumps(body))


def test_keys_keep_the_encoding_of_their_source() -> None:
    (ref,) = created_objects(load_event("eventbridge-object-created.json"))
    assert ref.encoding is KeyEncoding.UNSPECIFIED
    job = batch_job(load_event("batch-operations-1.0.json"))
    assert job.tasks[0].ref.encoding is KeyEncoding.PERCENT
