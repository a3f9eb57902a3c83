"""A failure never replaces a succeeded document of the same inputs."""

from __future__ import annotations

from typing import Any

from portrait_fusion.aws.storage import ObjectHead, ObjectRef
from portrait_fusion.results.result_document import FunctionInfo, PairRecord
from portrait_fusion.results.result_guard import keeps_stored_success, parse_document

TARGET = ObjectRef("in", "incoming/p/target.jpg")
TEMPLATE = ObjectRef("in", "incoming/p/template.jpg")


def record(target_etag: str | None = "t1", template_etag: str | None = "m1") -> PairRecord:
    pair = PairRecord("p", TARGET, TEMPLATE, FunctionInfo("f", "$LATEST", "r"))
    if target_etag:
        pair.heads["target"] = ObjectHead(TARGET, target_etag, 1, "v1")
    if template_etag:
        pair.heads["template"] = ObjectHead(TEMPLATE, template_etag, 1, "v2")
    return pair


def stored(status: str = "succeeded") -> dict[str, Any]:
    return {
        "status": status,
        "inputs": {
            "target": {"key": TARGET.key, "etag": "t1", "version_id": "v1"},
            "template": {"key": TEMPLATE.key, "etag": "m1", "version_id": "v2"},
        },
    }


def test_a_success_of_the_same_inputs_is_kept() -> None:
    assert keeps_stored_success(stored(), record())


def test_a_success_is_kept_when_the_failure_never_read_the_inputs() -> None:
    assert keeps_stored_success(stored(), record(None, None))


def test_new_inputs_may_replace_a_success() -> None:
    assert not keeps_stored_success(stored(), record(target_etag="t2"))


def test_a_failed_document_or_none_may_be_replaced() -> None:
    assert not keeps_stored_success(stored("failed"), record())
    assert not keeps_stored_success(None, record())


def test_parse_document() -> None:
    assert parse_document(b'{"status": "succeeded"}') == {"status": "succeeded"}
    assert parse_document(b"[1]") is None
    assert parse_document(b"not json") is None
    assert parse_document(None) is None
