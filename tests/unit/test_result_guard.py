"""A failure never replaces a succeeded document of the same inputs."""

from __future__ import annotations

from typing import Any

import pytest

from portrait_fusion.aws.storage import ObjectHead, ObjectRef
from portrait_fusion.results.result_document import FunctionInfo, PairRecord
from portrait_fusion.results.result_guard import keeps_stored_success, parse_document

TARGET = ObjectRef("in", "incoming/p/target.jpg")
TEMPLATE = ObjectRef("in", "incoming/p/template.jpg")


def record(target_etag: str | None = "t1", template_etag: str | None = "m1") -> PairRecord:
    return read(
        ObjectHead(TARGET, target_etag, 1, "v1") if target_etag else None,
        ObjectHead(TEMPLATE, template_etag, 1, "v2") if template_etag else None,
    )


def read(target: ObjectHead | None, template: ObjectHead | None) -> PairRecord:
    """A failed run's record that read these heads (None: that input was never read)."""
    pair = PairRecord("p", TARGET, TEMPLATE, FunctionInfo("f", "$LATEST", "r"))
    for role, head in (("target", target), ("template", template)):
        if head is not None:
            pair.heads[role] = head
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


SAME_TARGET = ObjectHead(TARGET, "t1", 1, "v1")
SAME_TEMPLATE = ObjectHead(TEMPLATE, "m1", 1, "v2")


@pytest.mark.parametrize(
    "template",
    [
        ObjectHead(TEMPLATE, "m2", 1, "v2"),  # re-uploaded: a new ETag
        ObjectHead(TEMPLATE, "m1", 1, "v3"),  # the same bytes as a new version
        ObjectHead(ObjectRef("in", "incoming/p/template.png"), "m1", 1, "v2"),  # another file
    ],
    ids=["etag", "version", "key"],
)
def test_a_new_template_may_replace_a_success(template: ObjectHead) -> None:
    assert not keeps_stored_success(stored(), read(SAME_TARGET, template))
    assert not keeps_stored_success(stored(), read(None, template))


@pytest.mark.parametrize(
    "target",
    [
        ObjectHead(TARGET, "t1", 1, "v9"),
        ObjectHead(ObjectRef("in", "incoming/p/target.png"), "t1", 1, "v1"),
    ],
    ids=["version", "key"],
)
def test_a_new_version_or_file_of_the_target_may_replace_a_success(target: ObjectHead) -> None:
    assert not keeps_stored_success(stored(), read(target, SAME_TEMPLATE))


def test_a_success_is_kept_when_only_the_unchanged_template_was_read() -> None:
    assert keeps_stored_success(stored(), read(None, SAME_TEMPLATE))


@pytest.mark.parametrize(
    "document",
    [
        {"status": "succeeded"},
        {"status": "succeeded", "inputs": None},
        {"status": "succeeded", "inputs": {"target": None, "template": None}},
        {"status": "succeeded", "inputs": {"target": stored()["inputs"]["target"]}},
    ],
    ids=["no inputs", "null inputs", "null entries", "no template entry"],
)
def test_a_success_that_does_not_name_the_inputs_read_may_be_replaced(
    document: dict[str, Any],
) -> None:
    assert not keeps_stored_success(document, read(SAME_TARGET, SAME_TEMPLATE))


def test_a_document_without_a_status_or_an_empty_one_may_be_replaced() -> None:
    assert not keeps_stored_success({}, record())
    assert not keeps_stored_success({"inputs": stored()["inputs"]}, record())
