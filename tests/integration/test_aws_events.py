"""AWS as it really behaves: every published sample event, every key encoding of every source,
SNS envelopes, objects that are not there, and versions a Batch Operations task pins.

The handler runs unpatched against moto and the emulator. Lone halves stand in for pairs
where only finding the object matters: "waiting" means the key was found, "skipped" that
it was not, and no API call is paid for either.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from local_stack.aws import LocalStack
from local_stack.emulator import FusionEmulator
from local_stack.lambda_runtime import sqs_event, sqs_message
from tests import images
from tests.conftest import ROOT, load_event
from tests.harness import Buckets, unique_pair

SAMPLES = ROOT.parent / "shared" / "aws-events"
SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*.json"))
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:samples"

# What the function does with each sample as it stands (its buckets and keys are AWS's
# placeholders, outside PAIR_PATTERN): for notifications, the status of each created object;
# for SQS batches, the indexes of the messages handed back; for Batch Operations, the result
# code of each task.
EXPECTED: dict[str, Any] = {
    "aws-lambda-dotnet__cloudwatchevents-s3objectcreated.json": ["skipped"],
    "aws-lambda-dotnet__cloudwatchevents-s3objectdeleted.json": [],
    "aws-lambda-dotnet__s3-event.json": ["skipped", "skipped"],
    "aws-lambda-go__s3-batch-job-event-request-1.0.json": ["PermanentFailure"],
    "aws-lambda-go__s3-batch-job-event-request-2.0.json": ["PermanentFailure"],
    "aws-lambda-go__s3-event-with-decoded.json": ["skipped"],
    "aws-lambda-go__s3-event.json": ["skipped"],
    "aws-lambda-go__s3-lifecycle-event.json": [],
    "aws-lambda-go__sqs-event.json": {"handed_back": [0]},
    "aws-lambda-java-libs__s3_batch_event.json": ["PermanentFailure"],
    "aws-lambda-java-libs__s3_batch_event_v2.json": ["PermanentFailure"],
    "aws-lambda-java-libs__s3_event.json": ["skipped"],
    "aws-lambda-java-libs__sqs_event_nobody.json": {"handed_back": [0]},
    "powertools__s3BatchOperationEventSchemaV1.json": ["PermanentFailure"],
    "powertools__s3BatchOperationEventSchemaV2.json": ["PermanentFailure"],
    "powertools__s3Event.json": ["skipped"],
    "powertools__s3EventBridgeNotificationObjectCreatedEvent.json": ["skipped"],
    "powertools__s3EventBridgeNotificationObjectDeletedEvent.json": [],
    "powertools__s3EventBridgeNotificationObjectExpiredEvent.json": [],
    "powertools__s3EventBridgeNotificationObjectRestoreCompletedEvent.json": [],
    "powertools__s3EventDeleteObject.json": [],
    "powertools__s3EventGlacier.json": ["skipped"],
    "powertools__s3SqsEvent.json": {"handed_back": []},
    # SNS envelopes whose Message is no S3 event: handed back, so they end in the DLQ.
    "powertools__snsSqsEvent.json": {"handed_back": [0]},
    "powertools__snsSqsFifoEvent.json": {"handed_back": [0]},
    "powertools__sqsEvent.json": {"handed_back": [0, 1]},
}
TEST_EVENT = "aws-lambda-go__s3_test.go-TestS3TestEventMarshaling.json"


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return event


def test_every_sample_has_an_expectation() -> None:
    assert sorted([*EXPECTED, TEST_EVENT]) == SAMPLE_FILES


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_aws_sample_event(function: Any, name: str) -> None:
    response = function.invoke(sample(name))
    expected = EXPECTED[name]
    if isinstance(expected, dict):
        records = sample(name)["Records"]
        failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
        assert failed == [records[i]["messageId"] for i in expected["handed_back"]]
    elif "results" in response:
        assert [r["resultCode"] for r in response["results"]] == expected
        assert all("PAIR_PATTERN" in r["resultString"] for r in response["results"])
    else:
        assert [o["status"] for o in response["outcomes"]] == expected


def sns_envelope(message: str) -> str:
    """An SNS -> SQS body with raw message delivery off, shaped like SNS writes it."""
    envelope = json.loads(sample("powertools__snsSqsEvent.json")["Records"][0]["body"])
    envelope["Message"] = message
    return json.dumps(envelope, indent=2)


@pytest.mark.parametrize("wrap", [str, sns_envelope], ids=["direct", "through SNS"])
def test_the_s3_test_message_is_skipped_quietly(function: Any, wrap: Any) -> None:
    body = wrap((SAMPLES / TEST_EVENT).read_text())
    response = function.invoke(sqs_event([sqs_message(body)], queue_arn=QUEUE_ARN))
    assert response["batchItemFailures"] == []


# -- keys: every awkward character through every source, in each encoding it may use ------
AWKWARD = ["a+b", "100% real", "two  spaces", "café ☕", "x%2By", "plain"]


def s3_record(stack: LocalStack, raw_key: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("s3-object-created.json"))
    event["Records"][0]["s3"]["bucket"]["name"] = stack.input_bucket
    event["Records"][0]["s3"]["object"]["key"] = raw_key
    return event


def eventbridge(stack: LocalStack, raw_key: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("eventbridge-object-created.json"))
    event["detail"]["bucket"]["name"] = stack.input_bucket
    event["detail"]["object"]["key"] = raw_key
    return event


def batch(stack: LocalStack, raw_key: str, version_id: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(load_event("batch-operations-2.0.json"))
    event["tasks"] = [
        {
            "taskId": "t1",
            "s3Bucket": stack.input_bucket,
            "s3Key": raw_key,
            "s3VersionId": version_id,
        }
    ]
    return event


def form(key: str) -> str:
    return quote_plus(key, safe="/")


def percent(key: str) -> str:
    return quote(key, safe="/")


def outcome_of(function: Any, stack: LocalStack, source: str, raw_key: str) -> str:
    """The status the function reports for an event naming `raw_key` through `source`."""
    if source == "s3":
        return str(function.invoke(s3_record(stack, raw_key))["outcomes"][0]["status"])
    if source in {"sqs", "sns"}:
        body = json.dumps(s3_record(stack, raw_key))
        if source == "sns":
            body = sns_envelope(body)
        response = function.invoke(sqs_event([sqs_message(body)], queue_arn=QUEUE_ARN))
        return "handed back" if response["batchItemFailures"] else "done"
    if source == "eventbridge":
        return str(function.invoke(eventbridge(stack, raw_key))["outcomes"][0]["status"])
    result = function.invoke(batch(stack, raw_key))["results"][0]
    return "waiting" if "waiting" in result["resultString"] else result["resultString"]


SOURCES = [
    ("s3", form),
    ("eventbridge", form),
    ("eventbridge", lambda key: key),  # moto (and, it seems, AWS at times) sends keys raw
    ("batch", percent),
    ("batch", form),  # inventory manifests are contested: either reading is found
]


@pytest.mark.parametrize("label", AWKWARD)
@pytest.mark.parametrize(("source", "encode"), SOURCES)
def test_a_key_is_found_whatever_its_characters_and_source(
    function: Any, buckets: Buckets, stack: LocalStack, label: str, source: str, encode: Any
) -> None:
    pair_id = unique_pair(label)
    key = buckets.upload(pair_id, "target", images.as_jpeg())
    assert outcome_of(function, stack, source, encode(key)) == "waiting"


@pytest.mark.parametrize("source", ["sqs", "sns"])
@pytest.mark.parametrize("label", AWKWARD)
def test_a_key_is_found_through_the_queue_directly_and_through_sns(
    function: Any, buckets: Buckets, stack: LocalStack, label: str, source: str
) -> None:
    pair_id = unique_pair(label)
    key = buckets.upload(pair_id, "target", images.as_jpeg())
    buckets.upload(pair_id, "template", images.as_png(), "png")
    assert outcome_of(function, stack, source, form(key)) == "done"
    assert buckets.wait_for_document(pair_id)["status"] == "succeeded"


@pytest.mark.parametrize("source", ["s3", "eventbridge"])
def test_an_event_for_a_missing_object_is_skipped_with_a_warning(
    function: Any,
    stack: LocalStack,
    emulator: FusionEmulator,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    source: str,
) -> None:
    key = f"incoming/{unique_pair('gone')}/target.jpg"
    event = s3_record(stack, form(key)) if source == "s3" else eventbridge(stack, form(key))
    (outcome,) = function.invoke(event)["outcomes"]
    assert outcome["status"] == "skipped"
    assert "is not in the bucket" in outcome["detail"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("object named by the event is not in the bucket" in r.getMessage() for r in warnings)
    assert '"ObjectsMissing"' in capsys.readouterr().out  # the EMF metric
    assert emulator.stats()["calls"] == 0


def test_a_batch_task_for_a_missing_object_is_a_permanent_failure(
    function: Any, stack: LocalStack
) -> None:
    key = f"incoming/{unique_pair('gone')}/template.png"
    (result,) = function.invoke(batch(stack, percent(key)))["results"]
    assert result["resultCode"] == "PermanentFailure"
    assert result["resultString"].startswith("INPUT_NOT_FOUND: ")


def test_a_json_body_that_is_no_s3_event_is_handed_back_with_its_message_id(
    function: Any, caplog: pytest.LogCaptureFixture
) -> None:
    message = sqs_message(json.dumps({"message": "foo1"}))
    response = function.invoke(sqs_event([message], queue_arn=QUEUE_ARN))
    assert response["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(getattr(r, "message_id", None) == message["MessageId"] for r in warnings)


# -- versions ------------------------------------------------------------------------------
def test_a_batch_task_that_names_a_version_is_merged_at_that_version(
    function: Any, buckets: Buckets, stack: LocalStack
) -> None:
    pair_id = unique_pair("versioned")
    target = buckets.upload(pair_id, "target", images.as_jpeg())
    first = buckets.s3.head_object(Bucket=stack.input_bucket, Key=target)["VersionId"]
    buckets.upload(pair_id, "target", images.as_jpeg(quality=70))  # a newer version
    buckets.upload(pair_id, "template", images.as_png(), "png")
    (result,) = function.invoke(batch(stack, percent(target), first))["results"]
    assert result["resultCode"] == "Succeeded"
    document = buckets.document(pair_id)
    assert document is not None
    assert document["inputs"]["target"]["version_id"] == first


def test_a_batch_task_for_a_version_that_is_not_there_is_input_not_found(
    function: Any, buckets: Buckets, stack: LocalStack
) -> None:
    pair_id = unique_pair("versioned")
    target = buckets.upload(pair_id, "target", images.as_jpeg())
    (result,) = function.invoke(batch(stack, percent(target), "no-such-version"))["results"]
    assert result["resultCode"] == "PermanentFailure"
    assert result["resultString"].startswith("INPUT_NOT_FOUND: ")
