"""Two owners on the local stack, end to end: signed tokens through the local API Gateway,
uploads through S3's POST policy checks, the pipeline in worker processes.

Each test is one thing an attacker (or a second user with a valid token) tries.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local_stack.aws import LocalStack
from local_stack.emulator import FusionEmulator
from local_stack.esm import EventSourceMapping
from local_stack.pair_api_server import PairApiServer
from tests import images
from tests.conftest import assert_pair_view
from tests.e2e.conftest import Queues, TokenMinter, settle, start_mapping
from tests.harness import Buckets


class Owner:
    """An app user: one subject of the issuer, a fresh token per request."""

    def __init__(self, server: PairApiServer, tokens: TokenMinter, name: str) -> None:
        self.url, self._tokens = server.url, tokens
        self.subject = f"{name}-{uuid.uuid4().hex[:8]}"

    def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        sent = {"Authorization": f"Bearer {self._tokens(self.subject)}", **(headers or {})}
        return requests.request(method, f"{self.url}{path}", headers=sent, timeout=15, **kwargs)

    def create(self, **request: Any) -> dict[str, Any]:
        answer = self.call("POST", "/pairs", json=request)
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created

    def view(self, pair_id: str) -> dict[str, Any]:
        answer = self.call("GET", f"/pairs/{pair_id}")
        assert answer.status_code == 200, answer.text
        return assert_pair_view(answer.json())

    def wait_until_done(self, pair_id: str, timeout_s: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            view = self.view(pair_id)
            if view["status"] not in ("waiting", "processing"):
                return view
            time.sleep(0.1)
        raise AssertionError(f"pair {pair_id} did not finish")


def post_form(presigned: dict[str, Any], data: bytes) -> int:
    fields = {**presigned["fields"], "Content-Type": "image/jpeg"}
    answer = requests.post(
        presigned["url"], data=fields, files={"file": ("face.jpg", data, "image/jpeg")}, timeout=15
    )
    return answer.status_code


@pytest.fixture
def owners(pair_api: PairApiServer, tokens: TokenMinter) -> Any:
    return lambda name: Owner(pair_api, tokens, name)


@pytest.fixture
def reusing_mapping(
    stack: LocalStack, emulator: FusionEmulator, queues: Queues
) -> Iterator[EventSourceMapping]:
    """The pipeline with re-use of identical results on, as a deployed stack has it."""
    queues.drain(stack.queue_url)
    esm = start_mapping(stack, emulator, REUSE_IDENTICAL_RESULTS="true")
    yield esm
    esm.stop()


def merged(owner: Owner, target: bytes, **request: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A catalogue pair of `owner`'s with `target` posted, once it is done: (created, view)."""
    created = owner.create(template_id="astronaut", **request)
    assert post_form(created["uploads"]["target"], target) == 204
    return created, owner.wait_until_done(created["pair_id"])


def test_another_owner_reads_and_erases_nothing_and_learns_nothing(
    owners: Any, mapping: EventSourceMapping, emulator: FusionEmulator, queues: Queues
) -> None:
    alice, mallory = owners("alice"), owners("mallory")
    created, done = merged(alice, images.as_jpeg(quality=77), correlation_id="alice-order-1")
    assert done["status"] == "succeeded"
    pair_id = created["pair_id"]
    never = uuid.uuid4().hex
    for method in ("GET", "DELETE"):
        theirs = mallory.call(method, f"/pairs/{pair_id}")
        unknown = mallory.call(method, f"/pairs/{never}")
        assert (theirs.status_code, theirs.content) == (unknown.status_code, unknown.content)
        assert theirs.status_code == 404
        assert pair_id not in theirs.text and "alice-order-1" not in theirs.text
    assert alice.view(pair_id)["status"] == "succeeded"  # Mallory's DELETE erased nothing
    settle(emulator, queues)


def test_a_pair_uploaded_straight_to_the_bucket_is_no_ones_through_the_api(
    owners: Any, buckets: Buckets
) -> None:
    pair_id = uuid.uuid4().hex  # the shape of an API pair id, but the API never made it
    buckets.upload(pair_id, "target", images.as_jpeg())
    alice = owners("alice")
    assert alice.call("GET", f"/pairs/{pair_id}").status_code == 404
    assert alice.call("DELETE", f"/pairs/{pair_id}").status_code == 404
    assert (
        buckets.s3.list_objects_v2(
            Bucket=buckets.stack.input_bucket, Prefix=f"incoming/{pair_id}/"
        )["KeyCount"]
        == 1
    )


def test_re_use_never_hands_one_owner_anothers_result_or_pair_id(
    owners: Any,
    reusing_mapping: EventSourceMapping,
    emulator: FusionEmulator,
    queues: Queues,
    buckets: Buckets,
) -> None:
    alice, bob = owners("alice"), owners("bob")
    face = images.as_jpeg(quality=73)  # the same photo, the same template, the same similarity
    first, _ = merged(alice, face)
    theirs, view = merged(bob, face)
    assert view["status"] == "succeeded"
    assert first["pair_id"] not in json.dumps(view)
    document = buckets.document(theirs["pair_id"])
    assert document is not None and "reused_from" not in document
    assert settle(emulator, queues)["calls"] == 2  # Bob's merge was his own, and paid
    again, _ = merged(alice, face)
    document = buckets.document(again["pair_id"])
    assert document is not None and document["reused_from"] == first["pair_id"]
    assert settle(emulator, queues)["calls"] == 2  # Alice's own result, re-used


def test_a_form_posted_again_after_success_buys_nothing(
    owners: Any, mapping: EventSourceMapping, emulator: FusionEmulator, queues: Queues
) -> None:
    alice = owners("alice")
    created, done = merged(alice, images.as_jpeg(quality=79))
    assert done["status"] == "succeeded"
    assert settle(emulator, queues)["calls"] == 1
    for quality in (61, 62, 63):  # the form is valid for 5 minutes, however often it is used
        assert post_form(created["uploads"]["target"], images.as_jpeg(quality=quality)) == 204
    assert settle(emulator, queues)["calls"] == 1
    after = alice.view(created["pair_id"])
    assert (after["status"], after["finished_at"]) == ("succeeded", done["finished_at"])


def test_a_form_posted_again_after_erasure_brings_nothing_back(
    owners: Any,
    mapping: EventSourceMapping,
    emulator: FusionEmulator,
    queues: Queues,
    buckets: Buckets,
    stack: LocalStack,
) -> None:
    alice = owners("alice")
    created, done = merged(alice, images.as_jpeg(quality=80))
    assert done["status"] == "succeeded"
    pair_id = created["pair_id"]
    settle(emulator, queues)
    assert alice.call("DELETE", f"/pairs/{pair_id}").status_code == 200
    assert post_form(created["uploads"]["target"], images.as_jpeg(quality=64)) == 204
    assert settle(emulator, queues)["calls"] == 1  # no new merge, no new charge
    assert alice.call("GET", f"/pairs/{pair_id}").status_code == 404
    versions = buckets.s3.list_object_versions(
        Bucket=stack.input_bucket, Prefix=f"incoming/{pair_id}/"
    )
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    assert buckets.output_keys(pair_id) == []


@pytest.mark.parametrize("token", ["expired", "not yet valid", "forged", "missing", "garbage"])
def test_a_request_without_a_valid_token_is_refused_before_the_function(
    pair_api: PairApiServer,
    tokens: TokenMinter,
    forged_tokens: TokenMinter,
    stack: LocalStack,
    token: str,
) -> None:
    headers = {
        "expired": {"Authorization": f"Bearer {tokens('alice', expires_in=-5)}"},
        "not yet valid": {"Authorization": f"Bearer {tokens('alice', not_before=300)}"},
        "forged": {"Authorization": f"Bearer {forged_tokens('alice')}"},
        "missing": {},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
    }[token]
    dynamodb = stack.client("dynamodb")

    def pair_records() -> int:
        scanned = dynamodb.scan(
            TableName=stack.table_name,
            FilterExpression="begins_with(id, :p)",
            ExpressionAttributeValues={":p": {"S": "pair#"}},
            Select="COUNT",
        )
        return int(scanned["Count"])

    before = pair_records()
    for method, path in (("POST", "/pairs"), ("GET", "/templates")):
        answer = requests.request(
            method, f"{pair_api.url}{path}", headers=headers, json={}, timeout=15
        )
        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.json() == {"message": "Unauthorized"}
    assert pair_records() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"source_similarity": ' + "9" * 310 + "}", "source_similarity"),
        ('{"source_similarity": 1e999}', "source_similarity"),
        ('{"correlation_id": "order-1\\n"}', "correlation_id"),
        ('{"correlation_id": "order\\u00001"}', "correlation_id"),
        ('{"template_id": "astronaut\\n"}', "template_id"),
        ('{"template_id": "astronaut", "owner": "someone-else"}', "owner"),
    ],
)
def test_input_that_cannot_be_served_is_a_400_naming_the_field_and_leaves_nothing(
    owners: Any, buckets: Buckets, body: str, field: str
) -> None:
    alice = owners("alice")
    before = buckets.s3.list_objects_v2(Bucket=buckets.stack.input_bucket, Prefix="incoming/")
    answer = alice.call("POST", "/pairs", data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "INVALID_REQUEST"
    assert field in answer.json()["error"]["message"]
    after = buckets.s3.list_objects_v2(Bucket=buckets.stack.input_bucket, Prefix="incoming/")
    assert after.get("KeyCount") == before.get("KeyCount")


def test_the_view_shows_nothing_of_the_stacks_insides(
    owners: Any, mapping: EventSourceMapping, buckets: Buckets, stack: LocalStack
) -> None:
    alice = owners("alice")
    for face, status in ((images.as_jpeg(quality=75), "succeeded"), (images.gradient(), "failed")):
        created, view = merged(alice, face, correlation_id="order-9")
        assert view["status"] == status
        document = buckets.document(created["pair_id"])
        assert document is not None
        insides = [
            stack.input_bucket,
            stack.output_bucket,
            document["inputs"]["target"]["key"],
            document["inputs"]["target"]["etag"],
            document["inputs"]["target"]["version_id"],
            document["function"]["name"],
            document["function"]["aws_request_id"],
            *([document["api"]["request_id"]] if document["api"] else []),
        ]
        # a presigned result_url names its bucket and key; nothing else may
        text = json.dumps({name: value for name, value in view.items() if name != "result_url"})
        for inside in filter(None, insides):
            assert inside not in text, inside
        assert view["correlation_id"] == "order-9"
