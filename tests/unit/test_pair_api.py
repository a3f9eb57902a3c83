"""The Pair API's routes and logic on an in-memory store (no AWS, no network)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from local_stack.http_api_event import HttpRequest, from_result, to_event
from pair_api.pair_request import MAX_BODY_BYTES, NewPair
from pair_api.pair_status import PairFacts, PairStatus, pair_status
from pair_api.routes import build_resolver
from pair_api.service import PairService
from pair_api.settings import PairApiSettings
from pair_api.store import StoredFile
from pair_api.upload_policy import UploadPolicy, upload_policy
from portrait_fusion.aws.erasure import ErasureReport

PAIR_ID = "0123456789abcdef0123456789abcdef"
SETTINGS = PairApiSettings(input_bucket="in", output_bucket="out", max_upload_bytes=1000)


@dataclass
class FakeStore:
    """Objects as {(bucket, key): (body, metadata)}; presigning returns readable fakes."""

    objects: dict[tuple[str, str], tuple[bytes, dict[str, str]]] = field(default_factory=dict)
    policies: list[UploadPolicy] = field(default_factory=list)
    copies: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def read_json(self, bucket: str, key: str) -> dict[str, Any] | None:
        found = self.objects.get((bucket, key))
        return None if found is None else json.loads(found[0])

    def write_json(self, bucket: str, key: str, document: dict[str, Any]) -> None:
        self.objects[bucket, key] = (json.dumps(document).encode(), {})

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))

    def describe(self, bucket: str, key: str) -> StoredFile | None:
        found = self.objects.get((bucket, key))
        return None if found is None else StoredFile(key, len(found[0]), "image/png", found[1])

    def copy(self, bucket: str, source_key: str, target_key: str, metadata: dict[str, str]) -> None:
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


@pytest.fixture
def store() -> FakeStore:
    fake = FakeStore()
    fake.objects["in", "catalogue/beach.png"] = (b"png", {"width": "640", "height": "480"})
    return fake


@pytest.fixture
def call(store: FakeStore) -> Any:
    def erase(pair_id: str) -> ErasureReport:
        gone = [key for bucket, key in list(store.objects) if f"/{pair_id}/" in key]
        for key in gone:
            store.objects = {k: v for k, v in store.objects.items() if k[1] != key}
        return ErasureReport(pair_id, objects=gone)

    service = PairService(SETTINGS, store, eraser=erase, new_pair_id=lambda: PAIR_ID)
    resolver = build_resolver(lambda: service)

    def request(method: str, path: str, body: Any = None, content_type: str = "application/json"):
        raw = body if isinstance(body, bytes | str) or body is None else json.dumps(body)
        data = raw.encode() if isinstance(raw, str) else (raw or b"")
        headers = {"content-type": content_type} if data else {}
        event = to_event(HttpRequest(method, path, headers=headers, body=data, host="api.test"))
        response = from_result(resolver.resolve(event, None))
        return response.status, json.loads(response.body)

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
        ("catalogue/beach.png", f"incoming/{PAIR_ID}/template.png", {"source-similarity": "1.0"})
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
        "result": {"bucket": "out", "key": f"results/{PAIR_ID}/result.jpg", "version_id": "v7"},
    }
    store.write_json("out", f"results/{PAIR_ID}/result.json", document)
    status, body = call("GET", f"/pairs/{PAIR_ID}")
    assert (status, body["status"], body["document"]) == (200, "succeeded", document)
    # Pinned to the document's version: a later merge of the pair cannot change the download
    assert body["result_url"] == f"https://out.s3/results/{PAIR_ID}/result.jpg?versionId=v7&signed"


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


def test_halves_uploaded_without_the_api_still_form_a_pair() -> None:
    facts = PairFacts(created=False, has_target=True, has_template=False, document=None)
    assert pair_status(facts) is PairStatus.WAITING
    assert pair_status(PairFacts(False, False, False, None)) is None


def test_templates_lists_the_catalogue_with_sizes_and_preview_urls(call: Any) -> None:
    status, body = call("GET", "/templates")
    assert status == 200
    assert body == [
        {
            "template_id": "beach",
            "width": 640,
            "height": 480,
            "preview_url": "https://in.s3/catalogue/beach.png?signed",
        }
    ]


def test_delete_erases_the_pair_then_it_is_gone(call: Any, store: FakeStore) -> None:
    call("POST", "/pairs")
    store.objects["in", f"incoming/{PAIR_ID}/target.jpg"] = (b"jpg", {})
    status, body = call("DELETE", f"/pairs/{PAIR_ID}")
    assert (status, body) == (200, {"pair_id": PAIR_ID, "erased": {"objects": 2, "records": 0}})
    assert call("GET", f"/pairs/{PAIR_ID}")[0] == 404
    status, body = call("DELETE", f"/pairs/{PAIR_ID}")
    assert (status, body["error"]["code"]) == (404, "PAIR_NOT_FOUND")


def test_delete_of_a_malformed_pair_id_erases_nothing(call: Any, store: FakeStore) -> None:
    status, body = call("DELETE", "/pairs/..")
    assert (status, body["error"]["code"]) == (400, "INVALID_REQUEST")
    assert ("in", "catalogue/beach.png") in store.objects
