"""The result document: built from plain data, valid against the published JSON Schema."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from portrait_fusion.aws.storage import ObjectHead, ObjectRef
from portrait_fusion.core.errors import PermanentApiError, PreflightError
from portrait_fusion.images.image_format import JPEG, PNG
from portrait_fusion.images.preflight import ImageInfo
from portrait_fusion.results.result_document import FunctionInfo, PairRecord, encode

FUNCTION = FunctionInfo("FusionFunction", "$LATEST", "req-1")


def record() -> PairRecord:
    target = ObjectRef("in", "incoming/p/target.jpg")
    template = ObjectRef("in", "incoming/p/template.png")
    rec = PairRecord("p", target, template, FUNCTION)
    rec.heads = {
        "target": ObjectHead(target, "e1", 100, None, {}),
        "template": ObjectHead(template, "e2", 200, "v2", {}),
    }
    rec.images = {
        "target": ImageInfo(JPEG, 512, 512, "RGB", 100),
        "template": ImageInfo(PNG, 600, 400, "RGB", 200),
    }
    rec.source_similarity = 0.6
    rec.timings_ms = {"read": 3, "api": 40}
    return rec


def test_a_succeeded_document(assert_valid_document: Any) -> None:
    rec = record()
    rec.api = {"request_id": "r", "log_id": "l", "attempts": 1, "latency_ms": 40}
    rec.result = {
        "bucket": "out",
        "key": "results/p/result.jpg",
        "version_id": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        "content_type": "image/jpeg",
        "size": 10,
        "width": 600,
        "height": 400,
        "sha256": "a" * 64,
    }
    document = assert_valid_document(rec.to_document())
    assert (document["status"], document["error"]) == ("succeeded", None)
    assert document["inputs"]["template"]["version_id"] == "v2"
    assert document["timings_ms"]["total"] >= 0
    assert document["started_at"].endswith("Z")
    assert json.loads(encode(document)) == document


def test_a_failed_api_document_keeps_the_apis_details(assert_valid_document: Any) -> None:
    error = PermanentApiError(
        "no face", code="ERROR_NO_FACE_IN_FILE", http_status=422, request_id="r", log_id="l"
    )
    error.attempts = 1
    document = assert_valid_document(record().to_document(error))
    assert document["result"] is None
    assert document["error"] == {
        "stage": "api",
        "code": "ERROR_NO_FACE_IN_FILE",
        "message": "no face",
        "http_status": 422,
        "retryable": False,
    }
    assert document["api"]["request_id"] == "r"


def test_a_preflight_document_has_no_api_section(assert_valid_document: Any) -> None:
    error = PreflightError("target is grayscale", code="ERROR_UNSUPPORTED_GRAYSCALE_IMAGE")
    document = assert_valid_document(record().to_document(error))
    assert (document["api"], document["error"]["stage"]) == (None, "preflight")


RESULT = {
    "bucket": "out",
    "key": "k",
    "version_id": "v1",
    "content_type": "image/jpeg",
    "size": 1,
    "width": 1,
    "height": 1,
    "sha256": "a" * 64,
}
UNPINNED = {name: value for name, value in RESULT.items() if name != "version_id"}


@pytest.mark.parametrize(
    "breakage",
    [
        {"status": "done"},
        {"schema_version": 2},
        {"result": None},
        {"extra": 1},
        {"source_similarity": 1.5},
        {"result": UNPINNED},  # a result must say which version holds its bytes
    ],
)
def test_the_schema_rejects_broken_documents(
    result_schema: jsonschema.protocols.Validator, breakage: dict[str, Any]
) -> None:
    rec = record()
    rec.api = {"request_id": "r", "log_id": "l", "attempts": 1, "latency_ms": 40}
    rec.result = dict(RESULT)
    assert not list(result_schema.iter_errors(rec.to_document()))
    document = {**rec.to_document(), **breakage}
    assert list(result_schema.iter_errors(document))
