"""The Pair API's real routes, called with API Gateway's events, against moto's S3 and
DynamoDB (no pipeline running here); uploads go through S3's POST policy checks."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from local_stack.aws import LocalStack, MotoServer, aws_env
from local_stack.jwt_issuer import LocalIssuer
from local_stack.pair_api import local_pair_api, local_pair_routes, seed_catalogue
from local_stack.pair_api_server import PairApiServer
from ops import catalogue
from portrait_fusion.images.preflight import size_limit
from tests import images
from tests.aws_endpoint import on_moto
from tests.conftest import assert_pair_view
from tests.harness import provision_tier
from tests.pair_api_calls import Caller

# One stack serves every test here: on one worker (make test's --dist loadgroup).
pytestmark = pytest.mark.xdist_group("pair-api")


@pytest.fixture(scope="module")
def pair_stack(moto: MotoServer) -> LocalStack:
    stack = provision_tier(
        moto.endpoint_url,
        f"pairs-{uuid.uuid4().hex[:8]}",
        # strict sizes: the upload limit is 4 MB, so a too-large upload stays cheap to send
        AutoFit="false",
    )
    seed_catalogue(stack)
    return stack


@pytest.fixture(scope="module")
def server(pair_stack: LocalStack) -> Iterator[PairApiServer]:
    with local_pair_api(pair_stack) as running:
        yield running


@pytest.fixture(scope="module")
def routes(pair_stack: LocalStack) -> Iterator[APIGatewayHttpResolver]:
    with local_pair_routes(pair_stack) as resolver:
        yield resolver


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer.generate("https://issuer.example.test")


@pytest.fixture(scope="module")
def alice(routes: APIGatewayHttpResolver, issuer: LocalIssuer) -> Caller:
    return Caller(routes, issuer.authorizer("alice"))


@pytest.fixture(scope="module")
def bob(routes: APIGatewayHttpResolver, issuer: LocalIssuer) -> Caller:
    return Caller(routes, issuer.authorizer("bob"))


@pytest.fixture(scope="module")
def s3(pair_stack: LocalStack) -> Any:
    return pair_stack.client("s3")


def upload(presigned: dict[str, Any], data: bytes, content_type: str) -> requests.Response:
    fields = {**presigned["fields"], "Content-Type": content_type}
    return requests.post(
        presigned["url"], data=fields, files={"file": ("face", data, content_type)}, timeout=10
    )


def policy_of(presigned: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(base64.b64decode(presigned["fields"]["policy"]))
    return document


def test_created_pair_uploads_land_with_the_requested_metadata(
    alice: Caller, pair_stack: LocalStack, s3: Any
) -> None:
    created = alice("POST", "/pairs", json={"source_similarity": 0.7, "correlation_id": "order-42"})
    assert created.status_code == 201
    pair = created.json()
    assert pair["status_url"] == f"https://{alice.host}/pairs/{pair['pair_id']}"
    assert alice("GET", f"/pairs/{pair['pair_id']}").json()["status"] == "waiting"
    assert upload(pair["uploads"]["target"], images.as_jpeg(), "image/jpeg").status_code == 204
    assert alice("GET", f"/pairs/{pair['pair_id']}").json()["status"] == "waiting"
    assert upload(pair["uploads"]["template"], images.as_png(), "image/png").status_code == 204
    described = assert_pair_view(alice("GET", f"/pairs/{pair['pair_id']}").json())
    assert (described["status"], described["result"], described["result_url"]) == (
        "processing",
        None,
        None,
    )
    assert (described["source_similarity"], described["correlation_id"]) == (0.7, "order-42")
    head = s3.head_object(
        Bucket=pair_stack.input_bucket, Key=f"incoming/{pair['pair_id']}/target.jpg"
    )
    assert head["Metadata"] == {"source-similarity": "0.7", "correlation-id": "order-42"}


def test_each_upload_policy_names_one_key_a_size_range_an_image_type_and_the_metadata(
    alice: Caller, pair_stack: LocalStack
) -> None:
    pair = alice("POST", "/pairs", json={"source_similarity": 0.3}).json()
    for role in ("target", "template"):
        presigned = pair["uploads"][role]
        policy = policy_of(presigned)
        conditions = policy["conditions"]
        assert {"bucket": pair_stack.input_bucket} in conditions
        assert {"key": f"incoming/{pair['pair_id']}/{role}.jpg"} in conditions
        # the largest input the fusion function accepts with AutoFit=false
        assert ["content-length-range", 1, size_limit(auto_fit=False)] in conditions
        assert ["starts-with", "$Content-Type", "image/"] in conditions
        assert {"x-amz-meta-source-similarity": "0.3"} in conditions
        expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert 0 < (expires - datetime.now(UTC)).total_seconds() <= 300


def test_straight_to_the_store_a_policy_holds_except_on_moto_as_the_readme_says(
    alice: Caller, pair_stack: LocalStack, s3: Any
) -> None:
    """A non-image upload sent straight to the store, past the local gate, with the policy the
    Pair API presigned: S3 (and LocalStack) refuse it and store nothing; moto stores it, as it
    checks no POST policy condition, which is why the local Pair API puts its gate in front.

    If moto starts enforcing the policy, this fails, and the README's note must change.
    """
    pair = alice("POST", "/pairs").json()
    straight_to_the_store = {
        "url": f"{pair_stack.endpoint_url}/{pair_stack.input_bucket}",
        "fields": pair["uploads"]["target"]["fields"],
    }
    answer = upload(straight_to_the_store, b"%PDF-1.7 not an image", "application/pdf")
    listed = s3.list_objects_v2(
        Bucket=pair_stack.input_bucket, Prefix=f"incoming/{pair['pair_id']}/"
    )
    if on_moto():
        assert answer.status_code == 204
        assert listed["KeyCount"] == 1
    else:
        assert answer.status_code == 403, answer.text
        assert listed["KeyCount"] == 0


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b"%PDF-1.7 not an image", "application/pdf", 403, "AccessDenied"),
        (
            images.padded_to(images.as_jpeg(), 4 * 1024 * 1024 + 1),
            "image/jpeg",
            400,
            "EntityTooLarge",
        ),
        (b"", "image/jpeg", 400, "EntityTooSmall"),
    ],
)
def test_the_store_refuses_an_upload_outside_the_policy_and_stores_nothing(
    alice: Caller,
    pair_stack: LocalStack,
    s3: Any,
    data: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    pair = alice("POST", "/pairs").json()
    answer = upload(pair["uploads"]["target"], data, content_type)
    assert answer.status_code == status
    assert f"<Code>{code}</Code>" in answer.text
    listed = s3.list_objects_v2(
        Bucket=pair_stack.input_bucket, Prefix=f"incoming/{pair['pair_id']}/"
    )
    assert listed["KeyCount"] == 0


def test_the_store_refuses_metadata_other_than_the_request_fixed(
    alice: Caller, pair_stack: LocalStack
) -> None:
    presigned = alice("POST", "/pairs", json={"source_similarity": 0.2}).json()["uploads"]
    tampered = {
        "url": presigned["target"]["url"],
        "fields": {**presigned["target"]["fields"], "x-amz-meta-source-similarity": "1.0"},
    }
    answer = upload(tampered, images.as_jpeg(), "image/jpeg")
    assert (answer.status_code, "<Code>AccessDenied</Code>" in answer.text) == (403, True)
    # nor may an upload use its partner's policy for another key
    swapped = {
        "url": presigned["target"]["url"],
        "fields": {**presigned["target"]["fields"], "key": presigned["template"]["fields"]["key"]},
    }
    assert upload(swapped, images.as_jpeg(), "image/jpeg").status_code == 403


def test_a_catalogue_template_is_copied_server_side_and_only_the_target_is_presigned(
    alice: Caller, pair_stack: LocalStack, s3: Any
) -> None:
    created = alice("POST", "/pairs", json={"template_id": "astronaut", "correlation_id": "c-9"})
    assert created.status_code == 201
    pair = created.json()
    assert list(pair["uploads"]) == ["target"]
    copied = s3.get_object(
        Bucket=pair_stack.input_bucket, Key=f"incoming/{pair['pair_id']}/template.png"
    )
    original = s3.get_object(Bucket=pair_stack.input_bucket, Key="catalogue/astronaut.512x512.png")
    assert copied["Body"].read() == original["Body"].read()
    assert copied["Metadata"] == {"correlation-id": "c-9"}
    assert alice("GET", f"/pairs/{pair['pair_id']}").json()["status"] == "waiting"


def test_templates_lists_the_seeded_catalogue_with_working_previews(alice: Caller) -> None:
    listed = alice("GET", "/templates")
    assert listed.status_code == 200
    entries = {entry["template_id"]: entry for entry in listed.json()}
    assert set(entries) >= {"astronaut", "grace-hopper"}
    assert (entries["astronaut"]["width"], entries["astronaut"]["height"]) == (512, 512)
    preview = requests.get(entries["astronaut"]["preview_url"], timeout=10)
    assert preview.content.startswith(b"\x89PNG")


def test_a_failed_document_for_a_missing_partner_reads_as_expired(
    alice: Caller, pair_stack: LocalStack, s3: Any
) -> None:
    pair_id = alice("POST", "/pairs").json()["pair_id"]
    document = {"status": "failed", "error": {"code": "ERROR_PARTNER_MISSING", "message": "..."}}
    s3.put_object(
        Bucket=pair_stack.output_bucket,
        Key=f"results/{pair_id}/result.json",
        Body=json.dumps(document).encode(),
    )
    described = assert_pair_view(alice("GET", f"/pairs/{pair_id}").json())
    assert (described["status"], described["error"]) == (
        "expired",
        {"code": "ERROR_PARTNER_MISSING", "message": "..."},
    )


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    # (refusals with a body: the field at fault is named)
    [
        ("POST", "/pairs", {"json": {"similarity": 0.5}}, 400, "INVALID_REQUEST"),
        ("POST", "/pairs", {"json": {"source_similarity": 2}}, 400, "INVALID_REQUEST"),
        ("POST", "/pairs", {"json": {"template_id": "nowhere"}}, 400, "INVALID_REQUEST"),
        (
            "POST",
            "/pairs",
            {"data": "x" * 5000, "headers": {"Content-Type": "application/json"}},
            413,
            "REQUEST_TOO_LARGE",
        ),
        (
            "POST",
            "/pairs",
            {"data": "a=b", "headers": {"Content-Type": "text/plain"}},
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        # a well-formed id no pair has (fixed: every test worker must collect the same tests)
        ("GET", "/pairs/0123456789abcdef0123456789abcdef", {}, 404, "PAIR_NOT_FOUND"),
        ("GET", "/pairs/..%2Fsecrets", {}, 400, "INVALID_REQUEST"),
    ],
)
def test_every_refusal_is_a_json_error_naming_the_problem(
    alice: Caller, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    answer = alice(method, path, **kwargs)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]


def test_requests_without_the_token_are_refused_before_the_function(server: PairApiServer) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        answer = requests.get(server.url + "/templates", headers=headers, timeout=10)
        assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})


def test_the_playground_is_served_without_a_token(server: PairApiServer) -> None:
    page = requests.get(server.url + "/playground/", timeout=10)
    assert page.status_code == 200
    assert "Portrait Fusion playground" in page.text
    script = requests.get(server.url + "/playground/app.js", timeout=10)
    assert "/pairs" in script.text
    # a raw request line: requests would normalise the `..` away
    connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=10)
    connection.request("GET", "/playground/../template.yaml")
    assert connection.getresponse().status == 404
    connection.close()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (images.as_png(size=(180, 600)), "ERROR_LOW_RESOLUTION"),
        (images.webp(), "UNSUPPORTED_FILE_TYPES"),
        (images.truncated_jpeg(), "FILE_DECODING_FAILURE"),
        (images.colour_noise(4200, 300), "FILE_RESOLUTION_EXCEEDS_LIMITS"),
    ],
)
def test_the_catalogue_command_refuses_what_the_api_would_refuse(
    pair_stack: LocalStack, s3: Any, tmp_path: Path, data: bytes, code: str, capsys: Any
) -> None:
    file = tmp_path / "scene.img"
    file.write_bytes(data)
    with shell_env(pair_stack):
        status = catalogue.main(["add", "--bucket", pair_stack.input_bucket, "refused", str(file)])
    assert status == 2
    assert code in capsys.readouterr().err
    listed = s3.list_objects_v2(Bucket=pair_stack.input_bucket, Prefix="catalogue/refused.")
    assert listed["KeyCount"] == 0


def test_the_catalogue_command_adds_a_template_the_api_then_offers(
    routes: APIGatewayHttpResolver,
    issuer: LocalIssuer,
    pair_stack: LocalStack,
    tmp_path: Path,
    capsys: Any,
) -> None:
    file = tmp_path / "scene.jpg"
    file.write_bytes(images.as_jpeg("grace_hopper.jpg", size=(420, 500)))
    with shell_env(pair_stack):
        status = catalogue.main(["add", "--bucket", pair_stack.input_bucket, "harbour", str(file)])
    assert status == 0
    assert "catalogue/harbour.420x500.jpg (420x500)" in capsys.readouterr().out
    # a new execution environment: the catalogue is cached in each for a few seconds
    with local_pair_routes(pair_stack) as fresh:
        listed = Caller(fresh, issuer.authorizer("alice"))("GET", "/templates").json()
    entries = {entry["template_id"]: entry for entry in listed}
    assert (entries["harbour"]["width"], entries["harbour"]["height"]) == (420, 500)


@contextlib.contextmanager
def shell_env(stack: LocalStack) -> Iterator[None]:
    """The environment a user's shell has after `make stack`'s exports."""
    saved = dict(os.environ)
    os.environ.update(aws_env(stack.endpoint_url, stack.region))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_delete_erases_every_version_of_the_pair_and_then_it_is_gone(
    alice: Caller, pair_stack: LocalStack, s3: Any
) -> None:
    pair = alice("POST", "/pairs").json()
    for _ in range(2):  # two versions of the target
        assert upload(pair["uploads"]["target"], images.as_jpeg(), "image/jpeg").status_code == 204
    erased = alice("DELETE", f"/pairs/{pair['pair_id']}")
    # two target versions and the pair's record
    assert erased.status_code == 200
    assert erased.json() == {"pair_id": pair["pair_id"], "erased": {"objects": 2, "records": 1}}
    for bucket, prefix in (
        (pair_stack.input_bucket, f"incoming/{pair['pair_id']}/"),
        (pair_stack.output_bucket, f"results/{pair['pair_id']}/"),
    ):
        listed = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
        assert not listed.get("Versions") and not listed.get("DeleteMarkers")
    assert alice("GET", f"/pairs/{pair['pair_id']}").status_code == 404
    assert alice("DELETE", f"/pairs/{pair['pair_id']}").status_code == 404
