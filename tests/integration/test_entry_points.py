"""The other entry points: direct S3, EventBridge, ad hoc, S3 Batch Operations;
and exactly-once billing across them."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from portrait_fusion.core.errors import InvalidEventError, TransientApiError
from tests import images
from tests.conftest import load_event
from tests.harness import Buckets, unique_pair


def upload_pair(buckets: Buckets, pair_id: str) -> tuple[str, str]:
    target = buckets.upload(pair_id, "target", images.as_jpeg())
    template = buckets.upload(pair_id, "template", images.as_png(), "png")
    return target, template


def s3_event(stack: LocalStack, key: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("s3-object-created.json"))
    event["Records"][0]["s3"]["bucket"]["name"] = stack.input_bucket
    event["Records"][0]["s3"]["object"]["key"] = quote_plus(key, safe="/")
    return event


def test_direct_s3_notification(
    function: Any, buckets: Buckets, stack: LocalStack, assert_valid_document: Any
) -> None:
    pair_id = unique_pair("direct s3")
    _, template = upload_pair(buckets, pair_id)
    response = function.invoke(s3_event(stack, template))
    assert response == {"outcomes": [{"status": "succeeded", "pair_id": pair_id}]}
    assert_valid_document(buckets.document(pair_id))


def test_direct_s3_notification_raises_when_it_should_be_retried(
    function: Any,
    buckets: Buckets,
    stack: LocalStack,
    emulator: FusionEmulator,
) -> None:
    pair_id = unique_pair()
    _, template = upload_pair(buckets, pair_id)
    emulator.set_faults(Faults(script=("AI_SERVICE_TIMEOUT",) * 4))
    with pytest.raises(TransientApiError, match="AI_SERVICE_TIMEOUT"):
        function.invoke(s3_event(stack, template))
    assert buckets.document(pair_id) is None


def test_an_empty_sqs_batch_answers_no_failures(
    function: Any, emulator: FusionEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """`{"Records": []}` is a batch with nothing in it, as Powertools' batch utilities read it."""
    assert function.invoke({"Records": []}) == {"batchItemFailures": []}
    assert emulator.stats()["calls"] == 0
    assert not [r for r in caplog.records if r.levelname in {"WARNING", "ERROR"}]


def test_an_empty_batch_with_anything_beside_it_is_refused(function: Any) -> None:
    with pytest.raises(InvalidEventError, match="unrecognised event"):
        function.invoke({"Records": [], "detail": {}})


def test_eventbridge_object_created(function: Any, buckets: Buckets, stack: LocalStack) -> None:
    pair_id = unique_pair("event bridge")
    target, _ = upload_pair(buckets, pair_id)
    event = copy.deepcopy(load_event("eventbridge-object-created.json"))
    event["detail"]["bucket"]["name"] = stack.input_bucket
    event["detail"]["object"]["key"] = quote_plus(target, safe="/")
    assert function.invoke(event)["outcomes"][0]["status"] == "succeeded"


def test_ad_hoc_objects_return_the_document_synchronously(
    function: Any,
    buckets: Buckets,
    stack: LocalStack,
    assert_valid_document: Any,
) -> None:
    pair_id = unique_pair("ad hoc")
    target, template = upload_pair(buckets, pair_id)
    event = {
        "target": f"s3://{stack.input_bucket}/{target}",
        "template": f"s3://{stack.input_bucket}/{template}",
        "source_similarity": 0.3,
    }
    document = assert_valid_document(function.invoke(event))
    assert (document["pair_id"], document["source_similarity"]) == (pair_id, 0.3)
    assert document == buckets.document(pair_id)


def test_ad_hoc_pair_prefix(function: Any, buckets: Buckets, stack: LocalStack) -> None:
    pair_id = unique_pair()
    upload_pair(buckets, pair_id)
    document = function.invoke({"pair": f"s3://{stack.input_bucket}/incoming/{pair_id}/"})
    assert document["status"] == "succeeded"


def test_ad_hoc_mistakes_get_clear_errors(
    function: Any, buckets: Buckets, stack: LocalStack
) -> None:
    pair_id = unique_pair()
    buckets.upload(pair_id, "target", images.as_jpeg())
    with pytest.raises(InvalidEventError, match="waiting for the template"):
        function.invoke({"pair": f"s3://{stack.input_bucket}/incoming/{pair_id}/"})
    with pytest.raises(InvalidEventError, match="s3://bucket/key"):
        function.invoke({"target": "incoming/x/target.jpg", "template": "s3://b/k"})
    with pytest.raises(InvalidEventError, match="pair_id"):
        function.invoke(
            {
                "target": f"s3://{stack.input_bucket}/elsewhere/face.jpg",
                "template": f"s3://{stack.input_bucket}/elsewhere/scene.png",
            }
        )


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_batch_operations_report_per_task(
    function: Any,
    buckets: Buckets,
    stack: LocalStack,
    emulator: FusionEmulator,
    version: str,
) -> None:
    # A space and a plus in a key, percent-encoded as a manifest may hold it (`+` left as is):
    # the percent reading names the object (which reading comes first: tests/unit/test_pairing.py).
    done = unique_pair("done pair+1")
    lone, faceless = unique_pair("lone"), unique_pair("faceless")
    keys = list(upload_pair(buckets, done))
    keys.append(buckets.upload(lone, "target", images.as_jpeg()))
    keys.append(buckets.upload(faceless, "target", images.as_jpeg()))
    buckets.upload(faceless, "template", images.gradient())
    keys.append("incoming/readme.txt")
    event = copy.deepcopy(load_event(f"batch-operations-{version}.json"))
    template_task = event["tasks"][0]
    event["tasks"] = []
    for number, key in enumerate(keys):
        task = {**template_task, "taskId": f"t{number}", "s3Key": quote(key, safe="/+")}
        if version == "1.0":
            task["s3BucketArn"] = f"arn:aws:s3:::{stack.input_bucket}"
        else:
            task["s3Bucket"] = stack.input_bucket
        event["tasks"].append(task)
    response = function.invoke(event)
    codes = [result["resultCode"] for result in response["results"]]
    assert response["invocationSchemaVersion"] == version
    assert codes == ["Succeeded", "Succeeded", "Succeeded", "PermanentFailure", "PermanentFailure"]
    assert "result.jpg" in response["results"][0]["resultString"]
    assert "waiting for the template" in response["results"][2]["resultString"]
    assert "ERROR_NO_FACE_IN_FILE" in response["results"][3]["resultString"]
    # both halves of `done` were tasks: one call; the faceless pair: one call
    assert emulator.stats()["calls"] == 2
    if version == "2.0":
        assert buckets.document(done)["source_similarity"] == 0.6  # type: ignore[index]


def test_batch_operations_temporary_failure(
    function: Any, buckets: Buckets, stack: LocalStack, emulator: FusionEmulator
) -> None:
    pair_id = unique_pair()
    target, _ = upload_pair(buckets, pair_id)
    emulator.set_faults(Faults(script=("ERROR_NOT_ENOUGH_CREDITS",)))
    event = copy.deepcopy(load_event("batch-operations-2.0.json"))
    event["tasks"][0].update(s3Bucket=stack.input_bucket, s3Key=quote(target))
    (result,) = function.invoke(event)["results"]
    assert result["resultCode"] == "TemporaryFailure"
    assert "ERROR_NOT_ENOUGH_CREDITS" in result["resultString"]


def test_every_replay_of_a_finished_pair_makes_no_second_call(
    function: Any,
    buckets: Buckets,
    stack: LocalStack,
    emulator: FusionEmulator,
) -> None:
    pair_id = unique_pair()
    target, template = upload_pair(buckets, pair_id)
    function.deliver()
    first = buckets.document(pair_id)
    # A duplicated notification, an EventBridge copy, an ad-hoc and a Batch Operations replay
    function.invoke(s3_event(stack, template))
    function.invoke(s3_event(stack, target))
    replayed = function.invoke({"pair": f"s3://{stack.input_bucket}/incoming/{pair_id}/"})
    assert replayed == first
    assert emulator.stats()["calls"] == 1
    # Replacing one input (a new ETag) runs the pair again
    buckets.upload(pair_id, "target", images.as_jpeg("grace_hopper.jpg"))
    function.deliver()
    second = buckets.document(pair_id)
    assert emulator.stats()["calls"] == 2
    assert second["inputs"]["target"]["etag"] != first["inputs"]["target"]["etag"]  # type: ignore[index]


def test_a_replay_is_told_from_a_fresh_run_by_the_idempotency_guard(
    function: Any, buckets: Buckets, stack: LocalStack, capfd: pytest.CaptureFixture[str]
) -> None:
    pair_id = unique_pair()
    upload_pair(buckets, pair_id)
    request = {"pair": f"s3://{stack.input_bucket}/incoming/{pair_id}/"}
    function.invoke(request)
    fresh = capfd.readouterr().out
    function.invoke(request)
    replay = capfd.readouterr().out
    # The invocation's EMF metrics (stdout) say which run called the API.
    assert "PairsSucceeded" in fresh
    assert "PairsReplayed" not in fresh
    assert "PairsReplayed" in replay
    assert "ApiAttempts" not in replay


def test_a_different_similarity_is_a_different_job(
    function: Any, buckets: Buckets, stack: LocalStack, emulator: FusionEmulator
) -> None:
    pair_id = unique_pair()
    target, template = upload_pair(buckets, pair_id)
    base = {
        "target": f"s3://{stack.input_bucket}/{target}",
        "template": f"s3://{stack.input_bucket}/{template}",
    }
    low = function.invoke({**base, "source_similarity": 0.1})
    high = function.invoke({**base, "source_similarity": 0.9})
    assert emulator.stats()["calls"] == 2
    assert low["result"]["sha256"] != high["result"]["sha256"]
    assert json.loads(json.dumps(high))["source_similarity"] == 0.9
