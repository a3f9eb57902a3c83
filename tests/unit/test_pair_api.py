"""The Pair API's routes and logic on in-memory stores (no AWS, no network)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from local_stack.http_api_event import HttpRequest, from_result, to_event
from pair_api.catalogue import Catalogue
from pair_api.owner import owner_of
from pair_api.pair_request import MAX_BODY_BYTES, NewPair
from pair_api.pair_status import PairFacts, PairStatus, pair_status
from pair_api.routes import build_resolver
from pair_api.service import PairService
from pair_api.settings import PairApiSettings
from pair_api.upload_policy import UploadPolicy, upload_policy
from portrait_fusion.aws.erasure import ErasureReport
from portrait_fusion.aws.pair_records import ApiPair, MergedVersion
from tests.conftest import assert_pair_view

PAIR_ID = "0123456789abcdef0123456789abcdef"
SETTINGS = PairApiSettings(
    input_bucket="in", output_bucket="out", max_upload_bytes=1000, owner_daily_call_budget=3
)
ISSUER = "https://issuer.test"
ALICE = {"iss": ISSUER, "sub": "alice", "aud": "app"}
BOB = {"iss": ISSUER, "sub": "bob", "aud": "app"}


@dataclass
class FakeStore:
    """Objects as {(bucket, key): (body, metadata)}; presigning returns readable fakes."""

    objects: dict[tuple[str, str], tuple[bytes, dict[str, str]]] = field(default_factory=dict)
    policies: list[UploadPolicy] = field(default_factory=list)
    copies: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    listings: list[str] = field(default_factory=list)
    copy_fails: bool = False

    def read_json(self, bucket: str, key: str) -> dict[str, Any] | None:
        found = self.objects.get((bucket, key))
        return None if found is None else json.loads(found[0])

    def write_json(self, bucket: str, key: str, document: dict[str, Any]) -> None:
        self.objects[bucket, key] = (json.dumps(document).encode(), {})

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        self.listings.append(prefix)
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))

    def copy(self, bucket: str, source_key: str, target_key: str, metadata: dict[str, str]) -> None:
        if self.copy_fails:
            from pair_api.errors import StoreUnavailable

            raise StoreUnavailable(f"cannot copy s3://{bucket}/{source_key}: AccessDenied")
        self.copies.append((source_key, target_key, metadata))
        self.objects[bucket, target_key] = (self.objects[bucket, source_key][0], metadata)

    def presign_post(
        self, bucket: str, policy: UploadPolicy, expires_seconds: int
    ) -> dict[str, Any]:
        self.policies.append(policy)
        return {"url": f"https://{bucket}.s3/", "fields": {"key": policy.key, **policy.fields}}

    def presign_get(
        self, bucket: str, key: str, expires_seconds: int, version_id: str | None = None
    ) -> str:
        version = f"versionId={version_id}&" if version_id else ""
        return f"https://{bucket}.s3/{key}?{version}signed"


@dataclass
class FakeRecords:
    """Pair records by id; erasure leaves a tombstone."""

    pairs: dict[str, ApiPair] = field(default_factory=dict)

    def create(self, pair: ApiPair) -> None:
        assert pair.pair_id not in self.pairs
        self.pairs[pair.pair_id] = pair

    def get(self, pair_id: str) -> ApiPair | None:
        return self.pairs.get(pair_id)

    def remove(self, pair_id: str) -> None:
        self.pairs.pop(pair_id, None)


@pytest.fixture
def store() -> FakeStore:
    fake = FakeStore()
    fake.objects["in", "catalogue/beach.640x480.png"] = (b"png", {})
    return fake


@pytest.fixture
def records() -> FakeRecords:
    return FakeRecords()


@pytest.fixture
def spent() -> dict[str, int]:
    """Paid calls spent today, by owner id."""
    return {}


@pytest.fixture
def call(store: FakeStore, records: FakeRecords, spent: dict[str, int]) -> Any:
    def erase(pair_id: str) -> ErasureReport:
        gone = [key for bucket, key in list(store.objects) if f"/{pair_id}/" in key]
        store.objects = {k: v for k, v in store.objects.items() if k[1] not in gone}
        pair = records.pairs.pop(pair_id)
        records.pairs[pair_id] = ApiPair(pair_id, owner="", created_at="", erased=True)
        return ErasureReport(pair_id, objects=gone, records=[f"pair#{pair.pair_id}"])

    service = PairService(
        SETTINGS,
        store,
        records,
        eraser=erase,
        spent_today=lambda owner: spent.get(owner, 0),
        new_pair_id=lambda: PAIR_ID,
    )
    resolver = build_resolver(lambda: service)

    def request(
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        claims: dict[str, str] | None = ALICE,
    ) -> tuple[int, Any]:
        raw = body if isinstance(body, bytes | str) or body is None else json.dumps(body)
        data = raw.encode() if isinstance(raw, str) else (raw or b"")
        headers = {"content-type": content_type} if data else {}
        event = to_event(
            HttpRequest(method, path, headers=headers, body=data, host="api.test", claims=claims)
        )
        response = from_result(resolver.resolve(event, None))
        body = json.loads(response.body)
        if (method, response.status) == ("GET", 200) and path.startswith("/pairs/"):
            assert_pair_view(body)  # every view the tests see keeps its schema
        return response.status, body

    return request


def test_post_pairs_presigns_both_halves_under_the_input_prefix(
    call: Any, store: FakeStore
) -> None:
    status, body = call("POST", "/pairs", {"source_similarity": 0.6, "correlation_id": "order-7"})
    assert status == 201
    assert body["pair_id"] == PAIR_ID
    assert body["status_url"] == f"https://api.test/pairs/{PAIR_ID}"
    assert body["uploads"]["target"]["fields"]["key"] == f"incoming/{PAIR_ID}/target.jpg"
    assert body["uploads"]["template"]["fields"]["key"] == f"incoming/{PAIR_ID}/template.jpg"
    assert body["uploads"]["target"]["fields"]["x-amz-meta-source-similarity"] == "0.6"
    assert body["uploads"]["target"]["fields"]["x-amz-meta-correlation-id"] == "order-7"


def test_an_empty_body_creates_a_pair_with_no_metadata(call: Any, store: FakeStore) -> None:
    status, _ = call("POST", "/pairs")
    assert status == 201
    assert [policy.fields for policy in store.policies] == [{}, {}]


def test_the_upload_policy_bounds_size_type_and_metadata() -> None:
    policy = upload_policy("incoming/p/target.jpg", NewPair(0.25, "c-1"), max_bytes=1000)
    assert policy.conditions == [
        ["content-length-range", 1, 1000],
        ["starts-with", "$Content-Type", "image/"],
        {"x-amz-meta-source-similarity": "0.25"},
        {"x-amz-meta-correlation-id": "c-1"},
    ]


def test_a_catalogue_template_is_copied_into_the_pair_and_only_the_target_is_presigned(
    call: Any, store: FakeStore
) -> None:
    status, body = call("POST", "/pairs", {"template_id": "beach", "source_similarity": 1})
    assert status == 201
    assert list(body["uploads"]) == ["target"]
    assert store.copies == [
        (
            "catalogue/beach.640x480.png",
            f"incoming/{PAIR_ID}/template.png",
            {"source-similarity": "1.0"},
        )
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"source_similarity": 1.5}, "source_similarity"),
        ({"source_similarity": -0.1}, "source_similarity"),
        ({"source_similarity": "0.5"}, "source_similarity"),
        ({"source_similarity": True}, "source_similarity"),
        ({"correlation_id": "x" * 129}, "correlation_id"),
        ({"correlation_id": "caf\u00e9"}, "correlation_id"),
        ({"template_id": "nowhere"}, "template_id"),
        ({"template_id": "../etc"}, "template_id"),
        # `$` matches before a final newline: the fields are matched whole
        ({"correlation_id": "order-1\n"}, "correlation_id"),
        ({"correlation_id": "order\t1"}, "correlation_id"),
        ({"correlation_id": "order\x7f"}, "correlation_id"),
        ({"template_id": "beach\n"}, "template_id"),
        ({"template_id": "beach\r"}, "template_id"),
    ],
)
def test_bad_fields_are_a_400_naming_the_field(call: Any, body: Any, field: str) -> None:
    status, answer = call("POST", "/pairs", body)
    assert status == 400
    assert answer["error"]["code"] == "INVALID_REQUEST"
    assert field in answer["error"]["message"]


@pytest.mark.parametrize("body", ["{not json", "[1, 2]"])
def test_a_body_that_is_no_json_object_is_a_400(call: Any, body: str) -> None:
    status, answer = call("POST", "/pairs", body)
    assert (status, answer["error"]["code"]) == (400, "INVALID_REQUEST")


def test_a_body_that_is_not_json_typed_is_a_415(call: Any) -> None:
    status, answer = call("POST", "/pairs", "source_similarity=1", content_type="text/plain")
    assert (status, answer["error"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_an_oversized_body_is_a_413(call: Any) -> None:
    status, answer = call("POST", "/pairs", {"correlation_id": "x" * MAX_BODY_BYTES})
    assert (status, answer["error"]["code"]) == (413, "REQUEST_TOO_LARGE")


def test_a_pair_never_created_is_a_404(call: Any) -> None:
    status, answer = call("GET", f"/pairs/{PAIR_ID}")
    assert (status, answer["error"]["code"]) == (404, "PAIR_NOT_FOUND")


def test_a_malformed_pair_id_is_a_400_naming_it(call: Any) -> None:
    status, answer = call("GET", "/pairs/not-a-pair")
    assert status == 400
    assert "pair_id" in answer["error"]["message"]


def test_an_unknown_route_is_a_json_404(call: Any) -> None:
    status, answer = call("GET", "/nothing")
    assert (status, answer["error"]["code"]) == (404, "ROUTE_NOT_FOUND")


def test_a_created_pair_waits_then_processes_then_succeeds_with_a_result_url(
    call: Any, store: FakeStore
) -> None:
    call("POST", "/pairs")
    assert call("GET", f"/pairs/{PAIR_ID}")[1]["status"] == "waiting"
    store.objects["in", f"incoming/{PAIR_ID}/target.jpg"] = (b"jpg", {})
    assert call("GET", f"/pairs/{PAIR_ID}")[1]["status"] == "waiting"
    store.objects["in", f"incoming/{PAIR_ID}/template.jpg"] = (b"jpg", {})
    assert call("GET", f"/pairs/{PAIR_ID}")[1]["status"] == "processing"
    document = {
        "status": "succeeded",
        "result": {
            "bucket": "out",
            "key": f"results/{PAIR_ID}/result.jpg",
            "version_id": "v7",
            "content_type": "image/jpeg",
            "width": 512,
            "height": 600,
            "size": 61234,
            "sha256": "0" * 64,
        },
    }
    store.write_json("out", f"results/{PAIR_ID}/result.json", document)
    status, body = call("GET", f"/pairs/{PAIR_ID}")
    assert (status, body["status"]) == (200, "succeeded")
    # Pinned to the document's version: a later merge of the pair cannot change the download
    assert body["result_url"] == f"https://out.s3/results/{PAIR_ID}/result.jpg?versionId=v7&signed"
    assert body["result"] == {
        "content_type": "image/jpeg",
        "width": 512,
        "height": 600,
        "size": 61234,
    }
    assert_pair_view(body)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"status": "succeeded"}, PairStatus.SUCCEEDED),
        ({"status": "failed", "error": {"code": "ERROR_NO_FACE_IN_FILE"}}, PairStatus.FAILED),
        ({"status": "failed", "error": {"code": "ERROR_PARTNER_MISSING"}}, PairStatus.EXPIRED),
    ],
)
def test_a_document_decides_the_status(document: dict[str, Any], expected: PairStatus) -> None:
    facts = PairFacts(created=True, has_target=True, has_template=False, document=document)
    assert pair_status(facts) is expected


def test_templates_lists_the_catalogue_with_sizes_and_preview_urls(call: Any) -> None:
    status, body = call("GET", "/templates")
    assert status == 200
    assert body == [
        {
            "template_id": "beach",
            "width": 640,
            "height": 480,
            "preview_url": "https://in.s3/catalogue/beach.640x480.png?signed",
        }
    ]


def test_delete_erases_the_pair_then_it_is_gone(call: Any, store: FakeStore) -> None:
    call("POST", "/pairs")
    store.objects["in", f"incoming/{PAIR_ID}/target.jpg"] = (b"jpg", {})
    status, body = call("DELETE", f"/pairs/{PAIR_ID}")
    assert (status, body) == (200, {"pair_id": PAIR_ID, "erased": {"objects": 1, "records": 1}})
    assert call("GET", f"/pairs/{PAIR_ID}")[0] == 404
    status, body = call("DELETE", f"/pairs/{PAIR_ID}")
    assert (status, body["error"]["code"]) == (404, "PAIR_NOT_FOUND")


def test_delete_of_a_malformed_pair_id_erases_nothing(call: Any, store: FakeStore) -> None:
    status, body = call("DELETE", "/pairs/..")
    assert (status, body["error"]["code"]) == (400, "INVALID_REQUEST")
    assert ("in", "catalogue/beach.640x480.png") in store.objects


def test_a_pair_of_another_owner_answers_exactly_like_a_pair_never_created(
    call: Any, records: FakeRecords
) -> None:
    never = "f" * 32
    call("POST", "/pairs")
    for method in ("GET", "DELETE"):
        theirs = call(method, f"/pairs/{PAIR_ID}", claims=BOB)
        unknown = call(method, f"/pairs/{never}", claims=BOB)
        assert (
            theirs
            == unknown
            == (
                404,
                {"error": {"code": "PAIR_NOT_FOUND", "message": "no such pair"}},
            )
        )
    assert not records.pairs[PAIR_ID].erased  # Bob's DELETE erased nothing
    assert call("GET", f"/pairs/{PAIR_ID}")[0] == 200  # Alice still has it


def test_a_pair_of_the_same_subject_at_another_issuer_is_someone_elses(call: Any) -> None:
    call("POST", "/pairs")
    elsewhere = {**ALICE, "iss": "https://other-issuer.test"}
    assert call("GET", f"/pairs/{PAIR_ID}", claims=elsewhere)[0] == 404


def test_the_owner_is_recorded_from_the_verified_claims(call: Any, records: FakeRecords) -> None:
    call("POST", "/pairs")
    alice = owner_of({"authorizer": {"jwt": {"claims": ALICE, "scopes": None}}})
    assert records.pairs[PAIR_ID].owner == alice
    assert "alice" not in alice and ISSUER not in alice  # a digest, not the identity


def test_an_iam_caller_owns_by_its_principal() -> None:
    def context(arn: str) -> dict[str, Any]:
        return {"authorizer": {"iam": {"userArn": arn, "accountId": "123456789012"}}}

    app = owner_of(context("arn:aws:sts::123456789012:assumed-role/app/session-1"))
    other = owner_of(context("arn:aws:iam::123456789012:user/backend"))
    assert app != other
    assert app == owner_of(context("arn:aws:sts::123456789012:assumed-role/app/session-1"))


def test_a_request_without_a_caller_is_a_401(call: Any) -> None:
    for method, path in (("POST", "/pairs"), ("GET", "/templates"), ("GET", f"/pairs/{PAIR_ID}")):
        status, answer = call(method, path, claims=None)
        assert (status, answer["error"]["code"]) == (401, "UNAUTHENTICATED")


@pytest.mark.parametrize("digits", [310, 4000])
def test_a_huge_similarity_is_a_400_naming_it(call: Any, digits: int) -> None:
    body = '{"source_similarity": ' + "9" * digits + "}"
    status, answer = call("POST", "/pairs", body)
    assert (status, answer["error"]["code"]) == (400, "INVALID_REQUEST")
    assert "source_similarity" in answer["error"]["message"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_similarity_that_is_no_finite_number_is_a_400(call: Any, literal: str) -> None:
    status, answer = call("POST", "/pairs", '{"source_similarity": ' + literal + "}")
    assert status == 400
    assert "source_similarity" in answer["error"]["message"]


def test_a_failed_creation_leaves_nothing_that_answers(
    call: Any, store: FakeStore, records: FakeRecords
) -> None:
    store.copy_fails = True
    status, answer = call("POST", "/pairs", {"template_id": "beach"})
    assert (status, answer["error"]["code"]) == (500, "STORAGE_ERROR")
    assert records.pairs == {}
    assert call("GET", f"/pairs/{PAIR_ID}")[0] == 404


def test_an_owner_whose_merges_are_spent_gets_a_429_others_do_not(
    call: Any, spent: dict[str, int]
) -> None:
    alice = owner_of({"authorizer": {"jwt": {"claims": ALICE}}})
    spent[alice] = SETTINGS.owner_daily_call_budget
    status, answer = call("POST", "/pairs")
    assert (status, answer["error"]["code"]) == (429, "DAILY_BUDGET_EXHAUSTED")
    assert call("POST", "/pairs", claims=BOB)[0] == 201


def test_a_bad_catalogue_entry_is_skipped_and_the_rest_is_served(
    call: Any, store: FakeStore
) -> None:
    for key in ("catalogue/old.png", "catalogue/wide.x480.png", "catalogue/x.0x0.png"):
        store.objects["in", key] = (b"png", {})
    status, body = call("GET", "/templates")
    assert status == 200
    assert [entry["template_id"] for entry in body] == ["beach"]
    assert call("POST", "/pairs", {"template_id": "beach"})[0] == 201


def test_the_catalogue_is_one_listing_per_cache_period() -> None:
    store = FakeStore()
    store.objects["in", "catalogue/beach.640x480.png"] = (b"png", {})
    now = [0.0]
    catalogue = Catalogue(store, "in", "catalogue/", clock=lambda: now[0])
    for _ in range(5):
        assert [entry.template_id for entry in catalogue.entries()] == ["beach"]
    catalogue.find("beach")
    assert store.listings == ["catalogue/"]
    store.objects["in", "catalogue/lake.800x600.jpg"] = (b"jpg", {})
    now[0] = 31.0
    assert [entry.template_id for entry in catalogue.entries()] == ["beach", "lake"]
    assert store.listings == ["catalogue/", "catalogue/"]


def test_the_view_shows_no_insides_of_the_stack(
    call: Any, store: FakeStore, records: FakeRecords
) -> None:
    call("POST", "/pairs", {"correlation_id": "order-7"})
    records.pairs[PAIR_ID] = replace(records.pairs[PAIR_ID], merged=MergedVersion("version-digest"))
    store.objects["in", f"incoming/{PAIR_ID}/target.jpg"] = (b"jpg", {})
    store.objects["in", f"incoming/{PAIR_ID}/template.jpg"] = (b"jpg", {})
    document = {
        "status": "failed",
        "pair_id": PAIR_ID,
        "inputs": {
            "target": {
                "bucket": "in",
                "key": f"incoming/{PAIR_ID}/target.jpg",
                "etag": '"e1"',
                "version_id": "v-111",
            },
        },
        "source_similarity": None,
        "correlation_id": "order-7",
        "result": None,
        "error": {
            "stage": "output",
            "code": "STORAGE_ERROR",
            "message": f"cannot write s3://out/results/{PAIR_ID}/result.png: SlowDown",
            "http_status": None,
            "retryable": True,
        },
        "api": {"request_id": "req-222", "log_id": "log-333"},
        "started_at": "2030-01-01T00:00:00.000Z",
        "finished_at": "2030-01-01T00:00:01.000Z",
        "function": {"name": "stack-FusionFunction", "version": "7", "aws_request_id": "lr-444"},
    }
    store.write_json("out", f"results/{PAIR_ID}/result.json", document)
    status, view = call("GET", f"/pairs/{PAIR_ID}")
    assert status == 200
    assert_pair_view(view)
    assert view["error"]["code"] == "STORAGE_ERROR"
    text = json.dumps(view)
    for inside in (
        "incoming/",
        "results/",
        '"e1"',
        "v-111",
        "req-222",
        "log-333",
        "FusionFunction",
        "lr-444",
        "version-digest",
        "s3://",
    ):
        assert inside not in text, inside
    assert (view["correlation_id"], view["finished_at"]) == ("order-7", document["finished_at"])
