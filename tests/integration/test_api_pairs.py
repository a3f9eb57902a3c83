"""Pairs the Pair API created, through the real fusion handler (in-process, moto, the HTTPS
emulator): one merge per pair, erasure that sticks, re-use and budgets per owner.

Pairs are created with the API's real routes (API Gateway's events, JWT claims from the local
issuer) and uploaded with their presigned forms through S3's POST policy checks.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from local_stack.jwt_issuer import LocalIssuer
from local_stack.pair_api import local_pair_routes, seed_catalogue
from tests import images
from tests.conftest import assert_pair_view
from tests.emf import metric_total
from tests.harness import Buckets
from tests.integration.conftest import Lambda
from tests.integration.notifications import Message, Queue, notified_key, the_tests_deliver
from tests.pair_api_calls import Caller


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer.generate("https://issuer.example.test")


@pytest.fixture(scope="module")
def routes(stack: LocalStack) -> Iterator[APIGatewayHttpResolver]:
    seed_catalogue(stack)
    with local_pair_routes(stack) as resolver:
        yield resolver


@pytest.fixture
def owners(routes: APIGatewayHttpResolver, issuer: LocalIssuer) -> Any:
    """Callers with subjects of their own for this test (the budget counters are per day)."""

    def caller(name: str) -> Caller:
        return Caller(routes, issuer.authorizer(f"{name}-{uuid.uuid4().hex[:8]}"))

    return caller


@pytest.fixture
def configure(configure: Any) -> Any:
    return the_tests_deliver(configure)


@pytest.fixture
def queue(stack: LocalStack, sqs: Any, function: Lambda) -> Queue:
    return Queue(stack, sqs, function)


def post_form(presigned: dict[str, Any], data: bytes) -> int:
    """Post an upload form as a browser would; S3's status."""
    fields = {**presigned["fields"], "Content-Type": "image/jpeg"}
    answer = requests.post(
        presigned["url"], data=fields, files={"file": ("face.jpg", data, "image/jpeg")}, timeout=10
    )
    return answer.status_code


def merged_pair(caller: Caller, function: Lambda, target: bytes, template: bytes) -> str:
    """A pair created by `caller`, both halves posted, delivered to the function; its id."""
    created = caller("POST", "/pairs", json={"source_similarity": 0.5}).json()
    assert post_form(created["uploads"]["target"], target) == 204
    assert post_form(created["uploads"]["template"], template) == 204
    function.deliver()
    return str(created["pair_id"])


def test_a_form_posted_again_after_the_merge_buys_nothing(
    function: Lambda, owners: Any, buckets: Buckets, emulator: FusionEmulator, stack: LocalStack
) -> None:
    alice = owners("alice")
    created = alice("POST", "/pairs").json()
    pair_id = created["pair_id"]
    assert post_form(created["uploads"]["target"], images.as_jpeg()) == 204
    assert post_form(created["uploads"]["template"], images.as_jpeg("grace_hopper.jpg")) == 204
    function.deliver()
    document = buckets.document(pair_id)
    assert document is not None and document["status"] == "succeeded"
    result_key = f"results/{pair_id}/result.json"
    before = buckets.s3.head_object(Bucket=stack.output_bucket, Key=result_key)["ETag"]
    assert emulator.stats()["calls"] == 1
    # the form is valid for minutes, however often it is used: other bytes, same key
    for quality in (70, 50):
        assert post_form(created["uploads"]["target"], images.as_jpeg(quality=quality)) == 204
        answer = function.deliver()
        assert answer["batchItemFailures"] == []
    assert emulator.stats()["calls"] == 1
    after = buckets.s3.head_object(Bucket=stack.output_bucket, Key=result_key)["ETag"]
    assert after == before
    view = assert_pair_view(alice("GET", f"/pairs/{pair_id}").json())
    assert view["status"] == "succeeded"


def test_an_erased_pair_stays_erased_when_its_forms_are_posted_again(
    function: Lambda, owners: Any, buckets: Buckets, emulator: FusionEmulator, stack: LocalStack
) -> None:
    alice = owners("alice")
    created = alice("POST", "/pairs").json()
    pair_id = created["pair_id"]
    assert post_form(created["uploads"]["target"], images.as_jpeg()) == 204
    assert post_form(created["uploads"]["template"], images.as_jpeg("grace_hopper.jpg")) == 204
    function.deliver()
    assert emulator.stats()["calls"] == 1
    assert alice("DELETE", f"/pairs/{pair_id}").status_code == 200
    # both forms again, then only one: neither brings the pair back
    assert post_form(created["uploads"]["target"], images.as_jpeg(quality=60)) == 204
    assert post_form(created["uploads"]["template"], images.as_jpeg("grace_hopper.jpg")) == 204
    function.deliver()
    assert post_form(created["uploads"]["target"], images.as_jpeg(quality=40)) == 204
    function.deliver()
    assert emulator.stats()["calls"] == 1
    versions = buckets.s3.list_object_versions(
        Bucket=stack.input_bucket, Prefix=f"incoming/{pair_id}/"
    )
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    assert buckets.output_keys(pair_id) == []
    markers = buckets.s3.list_objects_v2(Bucket=stack.output_bucket, Prefix="partner-timeouts/")
    assert all(pair_id not in str(item) for item in markers.get("Contents", []))
    assert alice("GET", f"/pairs/{pair_id}").status_code == 404


def test_re_use_never_crosses_owners(
    function: Lambda, owners: Any, buckets: Buckets, emulator: FusionEmulator, configure: Any
) -> None:
    configure(REUSE_IDENTICAL_RESULTS="true")
    alice, bob = owners("alice"), owners("bob")
    target, template = images.as_jpeg(quality=81), images.as_jpeg("grace_hopper.jpg", quality=82)
    first = merged_pair(alice, function, target, template)
    theirs = merged_pair(bob, function, target, template)
    assert emulator.stats()["calls"] == 2  # Bob's identical request was merged, not copied
    bobs = buckets.document(theirs)
    assert bobs is not None and "reused_from" not in bobs
    assert first not in str(bob("GET", f"/pairs/{theirs}").json())
    again = merged_pair(alice, function, target, template)
    assert emulator.stats()["calls"] == 2  # Alice's own result is re-used
    document = buckets.document(again)
    assert document is not None and document["reused_from"] == first


def test_re_use_across_owners_is_a_switch_for_single_tenant_stacks(
    function: Lambda, owners: Any, buckets: Buckets, emulator: FusionEmulator, configure: Any
) -> None:
    configure(REUSE_IDENTICAL_RESULTS="true", REUSE_ACROSS_OWNERS="true")
    target, template = images.as_jpeg(quality=83), images.as_jpeg("grace_hopper.jpg", quality=84)
    first = merged_pair(owners("alice"), function, target, template)
    theirs = merged_pair(owners("bob"), function, target, template)
    assert emulator.stats()["calls"] == 1
    document = buckets.document(theirs)
    assert document is not None and document["reused_from"] == first


def test_an_owner_spends_only_its_own_daily_budget(
    function: Lambda,
    owners: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    configure: Any,
    stack: LocalStack,
    issuer: LocalIssuer,
) -> None:
    configure(OWNER_DAILY_CALL_BUDGET="1")
    subject = f"alice-{uuid.uuid4().hex[:8]}"
    limited = dataclasses.replace(
        stack, pair_api_env={**stack.pair_api_env, "OWNER_DAILY_CALL_BUDGET": "1"}
    )
    with local_pair_routes(limited) as routes:
        alice = Caller(routes, issuer.authorizer(subject))
        spent = merged_pair(alice, function, images.as_jpeg(quality=71), images.as_png())
        document = buckets.document(spent)
        assert document is not None and document["status"] == "succeeded"
        refused = alice("POST", "/pairs")
        assert (refused.status_code, refused.json()["error"]["code"]) == (
            429,
            "DAILY_BUDGET_EXHAUSTED",
        )
        bob = Caller(routes, issuer.authorizer(f"bob-{uuid.uuid4().hex[:8]}"))
        assert bob("POST", "/pairs").status_code == 201
    assert emulator.stats()["calls"] == 1


@dataclass
class HandedBack:
    """A Pair API pair whose first merge was handed back (two HTTP 502s, API_MAX_ATTEMPTS=2),
    then whose target form was posted again with other bytes."""

    pair_id: str
    retry: list[Message]  # the handed-back notifications, to deliver again
    claimed: dict[str, str]  # the target version the merge claimed: version id and ETag
    target: str  # the target's key


@pytest.fixture
def handed_back(
    owners: Any,
    queue: Queue,
    buckets: Buckets,
    emulator: FusionEmulator,
    configure: Any,
    stack: LocalStack,
) -> tuple[Caller, HandedBack]:
    """Alice, and her pair whose merge was handed back before its target form was posted
    again (`HandedBack`)."""
    caller = owners("alice")
    configure(API_MAX_ATTEMPTS="2")
    emulator.set_faults(Faults(script=("html_502", "html_502")))  # then a healthy API
    created = caller("POST", "/pairs", json={"source_similarity": 0.5}).json()
    pair_id = created["pair_id"]
    assert post_form(created["uploads"]["target"], images.as_jpeg(quality=73)) == 204
    assert post_form(created["uploads"]["template"], images.as_jpeg("grace_hopper.jpg")) == 204
    target = f"incoming/{pair_id}/target.jpg"
    head = buckets.s3.head_object(Bucket=stack.input_bucket, Key=target)
    first = queue.receive([target, f"incoming/{pair_id}/template.jpg"])
    answer = queue.hand(first)
    assert len(answer["batchItemFailures"]) == 2  # handed back: nothing is written
    assert buckets.document(pair_id) is None
    assert emulator.stats()["billed"] == 0
    # the form is valid for minutes: posted again (other bytes) before the retry came
    assert post_form(created["uploads"]["target"], images.as_jpeg(quality=64)) == 204
    assert buckets.s3.head_object(Bucket=stack.input_bucket, Key=target)["ETag"] != head["ETag"]
    claimed = {"version_id": head["VersionId"], "etag": head["ETag"].strip('"')}
    return caller, HandedBack(pair_id, first, claimed, target)


def assert_merged_from_the_claimed_inputs(
    pair: HandedBack, caller: Caller, buckets: Buckets, emulator: FusionEmulator
) -> None:
    document = buckets.document(pair.pair_id)
    assert document is not None and document["status"] == "succeeded"
    target = document["inputs"]["target"]
    assert {"version_id": target["version_id"], "etag": target["etag"]} == pair.claimed
    stats = emulator.stats()
    assert (stats["billed"], stats["merges"]) == (1, 1)  # one paid call for the pair
    assert stats["by_outcome"] == {"html_502": 2, "ok": 1}
    view = assert_pair_view(caller("GET", f"/pairs/{pair.pair_id}").json())
    assert view["status"] == "succeeded"


def test_a_handed_back_merge_is_retried_from_its_claimed_inputs_after_a_form_posted_again(
    handed_back: tuple[Caller, HandedBack],
    queue: Queue,
    buckets: Buckets,
    emulator: FusionEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice, pair = handed_back
    retried = {message["MessageId"] for message in pair.retry}
    # the handed-back notifications come back: they read the newest target, and must finish
    # the claimed one
    retry = queue.receive_where(lambda m: m["MessageId"] in retried, 2)
    assert queue.hand(retry) == {"batchItemFailures": []}
    assert_merged_from_the_claimed_inputs(pair, alice, buckets, emulator)
    document = buckets.document(pair.pair_id)
    # then the notification of the form posted again: it buys nothing
    (late,) = queue.receive_where(
        lambda m: notified_key(m) == pair.target and m["MessageId"] not in retried, 1
    )
    assert queue.hand([late]) == {"batchItemFailures": []}
    assert buckets.document(pair.pair_id) == document
    assert emulator.stats()["billed"] == 1
    # each delivery that read the posted-again target counted it
    assert metric_total(capsys.readouterr().out, "UploadsAfterMerge") == 2


def test_the_notification_of_a_form_posted_again_before_the_retry_does_not_consume_the_pair(
    handed_back: tuple[Caller, HandedBack],
    queue: Queue,
    buckets: Buckets,
    emulator: FusionEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice, pair = handed_back
    retried = {message["MessageId"] for message in pair.retry}
    (reposted,) = queue.receive_where(
        lambda m: notified_key(m) == pair.target and m["MessageId"] not in retried, 1
    )
    assert queue.hand([reposted]) == {"batchItemFailures": []}
    assert_merged_from_the_claimed_inputs(pair, alice, buckets, emulator)
    document = buckets.document(pair.pair_id)
    # the handed-back notifications, once the claimed version has ended: nothing more
    retry = queue.receive_where(lambda m: m["MessageId"] in retried, 2)
    assert queue.hand(retry) == {"batchItemFailures": []}
    assert buckets.document(pair.pair_id) == document
    assert emulator.stats()["billed"] == 1
    assert metric_total(capsys.readouterr().out, "UploadsAfterMerge") == 2
