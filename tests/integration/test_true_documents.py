"""Every document the function answers or stores stays true, whatever merges come later.

A pair is merged, merged again at another similarity through the console's ad-hoc event,
replayed with its first request, merged from a replaced input reached through a late
redelivery of an old notification, and backfilled by Batch Operations. After each step every
document answered so far, every stored `result.json` (every version of it) and every
completion event is checked against the bytes of the object (and version) it names: they are
downloaded and hashed. The handler runs unpatched against moto's server and the emulator;
deliveries are waited for with long polls and deadlines, as a client of SQS must.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from local_stack.pair_api import local_pair_api
from local_stack.pair_api_server import PairApiServer
from tests import images
from tests.completion import EventLog, assert_valid_event
from tests.conftest import load_event
from tests.harness import Buckets
from tests.integration.notifications import Queue, notified_key, the_tests_deliver

# Batch Operations' result string for a success: where the result is, and which version.
BATCH_RESULT = re.compile(r"^s3://(?P<bucket>[^/]+)/(?P<key>.+) \(version (?P<version>[^)]+)\)$")


@dataclass
class Truth:
    """Checks that what the function said holds for the bytes in the output bucket."""

    stack: LocalStack
    s3: Any
    events: EventLog
    answered: list[dict[str, Any]] = field(default_factory=list)
    batch_results: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def answer(self, document: dict[str, Any]) -> dict[str, Any]:
        """Keep an answered document, to check it again after every later step."""
        self.answered.append(document)
        return document

    def read(self, bucket: str, key: str, version_id: str | None) -> tuple[bytes, str]:
        """An object's bytes and Content-Type, at `version_id` when one is named."""
        extra = {"VersionId": version_id} if version_id else {}
        response = self.s3.get_object(Bucket=bucket, Key=key, **extra)
        return response["Body"].read(), response["ContentType"]

    def check_document(self, document: dict[str, Any], assert_valid: Any) -> None:
        """The document is valid, and its result holds the bytes its sha256 describes."""
        assert_valid(document)
        result = document["result"]
        if result is None:
            return
        assert result["version_id"], "the stack's output bucket is versioned: name the version"
        data, content_type = self.read(result["bucket"], result["key"], result["version_id"])
        assert hashlib.sha256(data).hexdigest() == result["sha256"], (
            f"{result['key']} no longer holds the result of the document finished at "
            f"{document['finished_at']} (source_similarity {document['source_similarity']})"
        )
        assert (len(data), content_type) == (result["size"], result["content_type"])

    def stored_documents(self, pair_id: str) -> list[dict[str, Any]]:
        """Every version of the pair's result.json, newest first."""
        key = f"results/{pair_id}/result.json"
        listing = self.s3.list_object_versions(Bucket=self.stack.output_bucket, Prefix=key)
        versions = [v for v in listing.get("Versions", []) if v["Key"] == key]
        return [
            json.loads(self.read(self.stack.output_bucket, key, v["VersionId"])[0])
            for v in versions
        ]

    def check_event(self, event: dict[str, Any], assert_valid: Any) -> None:
        """The event's `document` is the document it announced, and its `result` is that
        document's result."""
        assert_valid_event(event)
        detail = event["detail"]
        pointer = detail["document"]
        data, _ = self.read(pointer["bucket"], pointer["key"], pointer["version_id"])
        document = json.loads(data)
        assert (document["finished_at"], document["status"]) == (
            detail["finished_at"],
            detail["status"],
        ), "the event's document pointer names another document than the one it announced"
        self.check_document(document, assert_valid)
        result = document["result"]
        expected = (
            None
            if result is None
            else {name: result[name] for name in ("bucket", "key", "version_id", "content_type")}
        )
        assert detail["result"] == expected

    def check_everything(self, pair_id: str, assert_valid: Any) -> None:
        """Every answered document, every stored document and every event, against the bytes."""
        for document in self.answered:
            self.check_document(document, assert_valid)
        stored = self.stored_documents(pair_id)
        assert stored, "no result.json stored"
        for document in stored:
            self.check_document(document, assert_valid)
        for text, document in self.batch_results:
            found = BATCH_RESULT.match(text)
            assert found, f"the Batch Operations result {text!r} names no version"
            result = document["result"]
            assert (found["bucket"], found["key"], found["version"]) == (
                result["bucket"],
                result["key"],
                result["version_id"],
            )
        for event in self.events.for_pair(pair_id):
            self.check_event(event, assert_valid)


@pytest.fixture
def configure(configure: Any) -> Any:
    return the_tests_deliver(configure)


@pytest.fixture
def queue(stack: LocalStack, sqs: Any, function: Any) -> Queue:
    return Queue(stack, sqs, function)


@pytest.fixture
def truth(stack: LocalStack, buckets: Buckets) -> Truth:
    return Truth(stack, buckets.s3, EventLog(stack))


@pytest.fixture
def pair_api(stack: LocalStack) -> Iterator[PairApiServer]:
    with local_pair_api(stack) as server:
        yield server


def ad_hoc_objects(stack: LocalStack, target: str, template: str) -> dict[str, Any]:
    """The console's `events/ad-hoc-objects.json` (similarity 0.6) for this stack's pair."""
    event = load_event("ad-hoc-objects.json")
    event["target"] = f"s3://{stack.input_bucket}/{target}"
    event["template"] = f"s3://{stack.input_bucket}/{template}"
    return event


def batch_operations(stack: LocalStack, *tasks: tuple[str, str | None]) -> dict[str, Any]:
    """The console's `events/batch-operations-1.0.json`, one task per (key, version)."""
    event = load_event("batch-operations-1.0.json")
    (model,) = event["tasks"]
    event["tasks"] = [
        {
            **model,
            "taskId": f"task-{index}",
            "s3Key": key,
            "s3VersionId": version,
            "s3BucketArn": f"arn:aws:s3:::{stack.input_bucket}",
        }
        for index, (key, version) in enumerate(tasks)
    ]
    return event


def test_every_answered_and_stored_document_names_bytes_that_still_match_it(
    stack: LocalStack,
    buckets: Buckets,
    function: Any,
    queue: Queue,
    truth: Truth,
    emulator: FusionEmulator,
    assert_valid_document: Any,
) -> None:
    pair_id = uuid.uuid4().hex
    similarity = {"source-similarity": "0.3"}
    # Step 1: a pair uploaded (similarity 0.3 from its metadata) and merged through the queue
    target = buckets.upload(pair_id, "target", images.as_jpeg(), metadata=similarity)
    template = buckets.upload(pair_id, "template", images.as_png(), "png")
    first_target_version = buckets.s3.head_object(Bucket=stack.input_bucket, Key=target)[
        "VersionId"
    ]
    first_notifications = queue.deliver([target, template])
    first = buckets.document(pair_id)
    assert first is not None and first["source_similarity"] == 0.3
    truth.events.wait_for(pair_id, 1)
    truth.check_everything(pair_id, assert_valid_document)

    # Step 2: the console's ad-hoc event merges it again at 0.6, into the same result key
    second = truth.answer(function.invoke(ad_hoc_objects(stack, target, template)))
    assert (second["status"], second["source_similarity"]) == ("succeeded", 0.6)
    assert second["result"]["key"] == first["result"]["key"]
    assert second["result"]["sha256"] != first["result"]["sha256"]  # the merges differ
    truth.events.wait_for(pair_id, 2)
    truth.check_everything(pair_id, assert_valid_document)

    # Step 3: the first request again: a duplicate notification, and the same pair ad hoc
    (target_notification,) = (m for m in first_notifications if notified_key(m) == target)
    queue.send_again(target_notification["Body"])
    queue.deliver([target])
    replay = truth.answer(
        function.invoke({"pair": f"s3://{stack.input_bucket}/incoming/{pair_id}/"})
    )
    assert replay["finished_at"] == first["finished_at"]  # answered from its record
    assert emulator.stats()["merges"] == 2
    truth.check_everything(pair_id, assert_valid_document)

    # Step 4: the target replaced; a late copy of its old notification comes first, and the
    # API now answers PNG (the result's extension changes)
    emulator.set_faults(Faults(result_format="PNG"))
    buckets.upload(pair_id, "target", images.as_jpeg(quality=70), metadata=similarity)
    queue.send_again(target_notification["Body"])
    queue.deliver([target])  # either copy: both name the target, which is read as it is now
    queue.deliver([target])  # the other copy: a replay
    third = buckets.document(pair_id)
    assert third is not None and third["result"]["key"] == f"results/{pair_id}/result.png"
    assert emulator.stats()["merges"] == 3
    truth.events.wait_for(pair_id, 3)
    truth.check_everything(pair_id, assert_valid_document)

    # Step 5: Batch Operations backfills the first target version and the current one
    answer = function.invoke(
        batch_operations(stack, (target, first_target_version), (target, None))
    )
    old, current = answer["results"]
    assert (old["resultCode"], current["resultCode"]) == ("Succeeded", "Succeeded")
    truth.batch_results += [(old["resultString"], first), (current["resultString"], third)]
    assert emulator.stats()["merges"] == 3
    truth.check_everything(pair_id, assert_valid_document)


def post_form(presigned: dict[str, Any], data: bytes, content_type: str) -> None:
    fields = {**presigned["fields"], "Content-Type": content_type}
    answer = requests.post(
        presigned["url"], data=fields, files={"file": ("face", data, content_type)}, timeout=10
    )
    assert answer.status_code in (200, 201, 204), answer.text


def test_a_result_url_keeps_the_bytes_of_the_document_it_came_with(
    stack: LocalStack,
    buckets: Buckets,
    function: Any,
    queue: Queue,
    pair_api: PairApiServer,
) -> None:
    headers = {"Authorization": f"Bearer {pair_api.issuer.mint('alice')}"}
    created = requests.post(
        f"{pair_api.url}/pairs", json={"source_similarity": 0.3}, headers=headers, timeout=10
    ).json()
    pair_id, uploads = created["pair_id"], created["uploads"]
    post_form(uploads["target"], images.as_jpeg(), "image/jpeg")
    post_form(uploads["template"], images.as_png(), "image/png")
    queue.deliver([uploads["target"]["fields"]["key"], uploads["template"]["fields"]["key"]])
    view = requests.get(f"{pair_api.url}/pairs/{pair_id}", headers=headers, timeout=10).json()
    assert view["status"] == "succeeded"
    stored = buckets.document(pair_id)
    assert stored is not None
    result = stored["result"]
    # Anything that writes the result's key afterwards (here: a hand-made overwrite) makes a
    # new version; the URL the app holds still downloads the bytes its document describes.
    buckets.s3.put_object(Bucket=result["bucket"], Key=result["key"], Body=b"not the result")
    downloaded = requests.get(view["result_url"], timeout=10)
    assert downloaded.status_code == 200
    assert hashlib.sha256(downloaded.content).hexdigest() == result["sha256"]
