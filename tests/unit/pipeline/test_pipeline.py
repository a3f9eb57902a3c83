"""The pipeline's branches on in-memory fakes: each test runs in milliseconds."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from portrait_fusion.aws.storage import ObjectRef
from portrait_fusion.core.errors import (
    ConfigurationError,
    PermanentApiError,
    StorageError,
    TransientApiError,
)
from portrait_fusion.pipeline.outcome import PairRequest, Status
from portrait_fusion.pipeline.pair_run import OUTPUT_RESERVE_SECONDS
from tests.images import as_jpeg, gif
from tests.unit.pipeline.fakes import World, invocation, world

TARGET, TEMPLATE = "incoming/p1/target.jpg", "incoming/p1/template.jpg"


def _upload_pair(w: World, bucket: str = "in", pair: str = "p1") -> None:
    w.storage.put(bucket, f"incoming/{pair}/target.jpg", as_jpeg(size=(300, 300)))
    w.storage.put(bucket, f"incoming/{pair}/template.jpg", as_jpeg("grace_hopper.jpg"))


def test_a_complete_pair_is_merged_once_and_its_outputs_written() -> None:
    w = world()
    _upload_pair(w)
    outcome = w.pipeline.on_object(ObjectRef("in", TEMPLATE), invocation())
    assert outcome.status is Status.SUCCEEDED
    assert len(w.api.calls) == 1
    # The client read ahead, beside the idempotency write, for the very merge it made.
    assert w.api.read_aheads == [w.api.calls[0].pair_key]
    assert ("out", "results/p1/result.jpg") in w.storage.objects
    assert w.storage.document("out", "results/p1/result.json")["status"] == "succeeded"
    assert [e.detail["status"] for e in w.events.events] == ["succeeded"]


def test_a_lone_half_waits_and_is_registered_without_a_call() -> None:
    w = world()
    w.storage.put("in", TARGET, as_jpeg())
    outcome = w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    assert (outcome.status, outcome.detail) == (Status.WAITING, "waiting for the template")
    assert [h.pair_id for h in w.partners.halves] == ["p1"]
    assert w.api.calls == []


def test_a_key_outside_the_pattern_is_skipped_unread() -> None:
    w = world()
    outcome = w.pipeline.on_object(ObjectRef("in", "incoming/p1/templat.jpg"), invocation())
    assert outcome.status is Status.SKIPPED
    assert "PAIR_PATTERN" in outcome.detail
    assert w.storage.writes == []


def test_an_ambiguous_pair_fails_with_a_document_and_no_call() -> None:
    w = world()
    _upload_pair(w)
    w.storage.put("in", "incoming/p1/target.png", as_jpeg())
    outcome = w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    assert outcome.status is Status.FAILED
    assert outcome.document is not None
    assert outcome.document["error"]["code"] == "ERROR_AMBIGUOUS_PAIR"
    assert w.storage.document("out", "results/p1/result.json")["status"] == "failed"
    assert w.api.calls == []


def test_both_halves_in_one_invocation_share_one_run() -> None:
    w = world()
    _upload_pair(w)
    current = invocation()
    first = w.pipeline.on_object(ObjectRef("in", TARGET), current)
    second = w.pipeline.on_object(ObjectRef("in", TEMPLATE), current)
    assert first == second
    assert len(w.api.calls) == 1
    assert len(w.events.events) == 1


def test_a_replay_returns_the_stored_document_without_a_call_or_an_event() -> None:
    w = world()
    _upload_pair(w)
    first = w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    replay = w.pipeline.on_object(ObjectRef("in", TARGET), invocation())  # a new invocation
    assert replay.document == first.document
    assert len(w.api.calls) == 1
    assert len(w.events.events) == 1


def test_the_api_gets_the_time_left_minus_the_output_reserve() -> None:
    w = world()
    _upload_pair(w)
    w.pipeline.on_object(ObjectRef("in", TARGET), invocation(seconds_left=20.0))
    assert w.api.seconds_left_seen == [20.0 - OUTPUT_RESERVE_SECONDS]


def test_a_transient_api_error_is_raised_and_leaves_nothing_behind() -> None:
    w = world()
    _upload_pair(w)
    w.api.error = TransientApiError("busy", code="EXCEEDING_LIMITS")
    with pytest.raises(TransientApiError):
        w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    assert w.storage.writes == []
    assert w.guard.documents == {}  # the next delivery calls again
    w.api.error = None
    assert w.pipeline.on_object(ObjectRef("in", TARGET), invocation()).status is Status.SUCCEEDED


def test_a_permanent_api_error_is_a_failed_document() -> None:
    w = world()
    _upload_pair(w)
    w.api.error = PermanentApiError("no face", code="ERROR_NO_FACE_IN_FILE")
    outcome = w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    assert outcome.status is Status.FAILED
    assert w.storage.document("out", "results/p1/result.json")["error"]["code"] == (
        "ERROR_NO_FACE_IN_FILE"
    )
    assert [e.detail["status"] for e in w.events.events] == ["failed"]


def test_a_preflight_reject_fails_without_a_call() -> None:
    w = world()
    _upload_pair(w)
    w.storage.put("in", TARGET, gif())
    outcome = w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    assert outcome.document is not None
    assert outcome.document["error"]["code"] == "UNSUPPORTED_FILE_TYPES"
    assert w.api.calls == []


def test_an_output_key_that_would_retrigger_the_function_is_refused() -> None:
    # No INPUT_BUCKET: the output bucket is the one the event came from, and the
    # results would land under the input prefix.
    w = world(OUTPUT_BUCKET="in", OUTPUT_PREFIX="incoming/results/")
    _upload_pair(w)
    with pytest.raises(ConfigurationError, match="trigger the function again"):
        w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    assert w.storage.writes == []


def test_an_output_write_is_tried_once_botocore_owns_the_retries() -> None:
    w = world()
    _upload_pair(w)
    w.storage.fail_writes = True
    with pytest.raises(StorageError):
        w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    assert w.storage.writes == [("out", "results/p1/result.jpg")]


def test_an_identical_request_reuses_the_earlier_result_without_a_call() -> None:
    w = world(reuse=True)
    _upload_pair(w, pair="p1")
    _upload_pair(w, pair="p2")
    w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    copied = w.pipeline.on_object(ObjectRef("in", "incoming/p2/target.jpg"), invocation())
    assert len(w.api.calls) == 1
    assert copied.document is not None
    assert copied.document["reused_from"] == "p1"
    assert ("out", "results/p2/result.jpg") in w.storage.objects
    # The copy names its own key and version, whose bytes are the earlier result's
    result = copied.document["result"]
    stored = w.storage.versions[ObjectRef("out", result["key"], result["version_id"])]
    assert hashlib.sha256(stored).hexdigest() == result["sha256"]


def _result_bytes(w: World, document: dict[str, Any]) -> bytes:
    """What the document's result names: its key at its version."""
    result = document["result"]
    return w.storage.versions[ObjectRef(result["bucket"], result["key"], result["version_id"])]


def test_a_later_merge_of_the_pair_leaves_every_earlier_document_true() -> None:
    """Merged at 0.3, then at 0.6 (the same keys written again), then replayed at 0.3: every
    document answered names the version that holds the bytes its sha256 describes."""
    w = world()
    _upload_pair(w)
    target, template = ObjectRef("in", TARGET), ObjectRef("in", TEMPLATE)

    def merge(similarity: float) -> dict[str, Any]:
        outcome = w.pipeline.run_pair(PairRequest("p1", target, template, similarity), invocation())
        assert outcome.document is not None
        return outcome.document

    first, second, replay = merge(0.3), merge(0.6), merge(0.3)
    assert replay == first  # the idempotency record's document
    assert first["result"]["key"] == second["result"]["key"]
    assert first["result"]["sha256"] != second["result"]["sha256"]
    for document in (first, second, replay):
        data = _result_bytes(w, document)
        assert hashlib.sha256(data).hexdigest() == document["result"]["sha256"]


def test_each_event_names_the_version_of_the_document_it_announces() -> None:
    w = world()
    _upload_pair(w)
    target, template = ObjectRef("in", TARGET), ObjectRef("in", TEMPLATE)
    for similarity in (0.3, 0.6):
        w.pipeline.run_pair(PairRequest("p1", target, template, similarity), invocation())
    assert len(w.events.events) == 2
    for event in w.events.events:
        document = json.loads(w.storage.versions[ObjectRef(**event.detail["document"])])
        assert document["finished_at"] == event.detail["finished_at"]
        assert event.detail["result"] == {
            name: document["result"][name]
            for name in ("bucket", "key", "version_id", "content_type")
        }


def test_a_failure_never_replaces_a_stored_success_of_the_same_inputs() -> None:
    w = world()
    _upload_pair(w)
    w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    # The same inputs again, with a similarity the request gets wrong.
    request = PairRequest("p1", ObjectRef("in", TARGET), ObjectRef("in", TEMPLATE), "high")
    outcome = w.pipeline.run_pair(request, invocation())
    assert outcome.status is Status.FAILED
    assert w.storage.document("out", "results/p1/result.json")["status"] == "succeeded"
