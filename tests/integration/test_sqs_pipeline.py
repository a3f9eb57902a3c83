"""The default wiring: S3 notification -> SQS -> handler -> output bucket, on moto and the
emulator. Covers success, arrival orders, encoded keys, lone halves, ambiguity, and the
`batchItemFailures` contents."""

from __future__ import annotations

import hashlib
import io
import logging
from typing import Any

import pytest
from PIL import Image

from local_stack.emulator import Faults, FusionEmulator
from tests import images
from tests.harness import Buckets, unique_pair


def test_a_pair_in_either_order_becomes_a_result_and_its_document(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    assert_valid_document: Any,
) -> None:
    for order in (("target", "template"), ("template", "target")):
        pair_id = unique_pair(order[0])
        halves = {"target": (images.as_jpeg(), "jpg"), "template": (images.as_png(), "png")}
        # Given the first half alone
        buckets.upload(pair_id, order[0], *halves[order[0]])
        first = function.deliver()
        # Then it waits quietly: the message is consumed, nothing is written
        assert first["batchItemFailures"] == []
        assert buckets.output_keys(pair_id) == []
        # When the second half arrives
        buckets.upload(pair_id, order[1], *halves[order[1]])
        second = function.deliver()
        # Then the pair is merged once and both outputs exist
        assert second["batchItemFailures"] == []
        document = assert_valid_document(buckets.document(pair_id))
        assert document["status"] == "succeeded"
        assert document["inputs"]["target"]["format"] == "JPEG"
        assert document["inputs"]["template"]["format"] == "PNG"
        image, content_type = buckets.result_image(document)
        assert content_type == document["result"]["content_type"] == "image/jpeg"
        assert hashlib.sha256(image).hexdigest() == document["result"]["sha256"]
        assert Image.open(io.BytesIO(image)).size == Image.open(io.BytesIO(images.as_png())).size
        assert document["api"]["attempts"] == 1
        assert buckets.output_keys(pair_id) == [
            f"results/{pair_id}/result.jpg",
            f"results/{pair_id}/result.json",
        ]
    assert emulator.stats()["merges"] == 2


def test_png_results_get_their_extension_and_type_from_the_bytes(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
) -> None:
    emulator.set_faults(Faults(result_format="PNG"))
    pair_id = unique_pair()
    buckets.upload(pair_id, "target", images.as_jpeg())
    buckets.upload(pair_id, "template", images.as_jpeg("grace_hopper.jpg"))
    function.deliver()
    document = buckets.document(pair_id)
    assert document is not None
    assert document["result"]["key"].endswith("/result.png")
    assert buckets.result_image(document)[1] == "image/png"


@pytest.mark.parametrize(
    "pair_id",
    [
        "with space",
        "plus+sign",
        "100% sure",
        "café/ünïcode",
        "a/b/c/d/e/f/g/h/i/j",
        "dots..and~tilde",
    ],
)
def test_url_encoded_keys_are_decoded(function: Any, buckets: Buckets, pair_id: str) -> None:
    pair_id = f"{pair_id}-{unique_pair('k')}"
    buckets.upload(pair_id, "target", images.as_jpeg())
    buckets.upload(pair_id, "template", images.as_png(), "png")
    assert function.deliver()["batchItemFailures"] == []
    document = buckets.document(pair_id)
    assert document is not None
    assert document["status"] == "succeeded"
    assert document["inputs"]["target"]["key"] == f"incoming/{pair_id}/target.jpg"


def test_roles_and_extensions_match_in_any_case(function: Any, buckets: Buckets) -> None:
    pair_id = unique_pair()
    buckets.upload(pair_id, "TARGET", images.as_jpeg(), "JPEG")
    buckets.upload(pair_id, "Template", images.as_png(), "Png")
    function.deliver()
    document = buckets.document(pair_id)
    assert document is not None
    assert document["status"] == "succeeded"


def test_the_s3_test_event_and_foreign_keys_are_skipped(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
) -> None:
    pair_id = unique_pair()
    buckets.upload(pair_id, "notes", b"hello", "txt")
    buckets.upload(pair_id, "target", images.as_jpeg(), "gif")
    response = function.deliver()
    assert response["batchItemFailures"] == []
    assert len(response["messages"]) == 2
    assert emulator.stats()["calls"] == 0


def test_a_misspelled_role_leaves_a_trace_at_info(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a half whose role is misspelled
    pair_id = unique_pair()
    buckets.upload(pair_id, "templat", images.as_png(), "png")
    # When its notification is delivered, with the function's default level (INFO)
    with caplog.at_level(logging.INFO, logger="portrait-fusion"):
        assert function.deliver()["batchItemFailures"] == []
    # Then the log says, at INFO, which key was skipped and why
    skipped = [r for r in caplog.records if r.getMessage().startswith("skipped: key")]
    assert [r.levelname for r in skipped] == ["INFO"], caplog.text
    assert skipped[0].key.endswith(f"{pair_id}/templat.png")  # type: ignore[attr-defined]
    assert emulator.stats()["calls"] == 0


def test_an_ambiguous_pair_fails_clearly_without_a_call(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    assert_valid_document: Any,
) -> None:
    pair_id = unique_pair()
    buckets.upload(pair_id, "target", images.as_jpeg(), "jpg")
    buckets.upload(pair_id, "target", images.as_png(), "png")
    buckets.upload(pair_id, "template", images.as_png(), "png")
    assert function.deliver()["batchItemFailures"] == []
    document = assert_valid_document(buckets.document(pair_id))
    assert document["status"] == "failed"
    assert document["error"]["code"] == "ERROR_AMBIGUOUS_PAIR"
    assert document["error"]["stage"] == "pairing"
    assert "target.jpg" in document["error"]["message"]
    assert emulator.stats()["calls"] == 0


def test_both_halves_in_one_batch_make_one_call(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
) -> None:
    pair_id = unique_pair()
    buckets.upload(pair_id, "target", images.as_jpeg())
    buckets.upload(pair_id, "template", images.as_png(), "png")
    response = function.deliver()
    assert len(response["messages"]) == 2
    assert response["batchItemFailures"] == []
    assert emulator.stats()["calls"] == 1


def test_transient_failures_are_reported_as_batch_item_failures_only(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
) -> None:
    # Given two complete pairs in one batch, and an API that fails every call for a while
    ok_pair, bad_pair = unique_pair("ok"), unique_pair("busy")
    buckets.upload(ok_pair, "target", images.as_jpeg())
    buckets.upload(ok_pair, "template", images.as_png(), "png")
    buckets.upload(bad_pair, "target", images.as_jpeg())
    function.deliver()
    lone = buckets.upload(unique_pair("lone"), "target", images.as_jpeg())
    emulator.set_faults(Faults(script=("AI_SERVICE_FLOW_RESTRICTION",) * 8))
    buckets.upload(bad_pair, "template", images.as_png(), "png")
    # When the batch (a lone half + the second half of the busy pair) is handled
    response = function.deliver()
    # Then only the busy pair's message is handed back, after the in-function retries
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    by_key = {m["MessageId"]: m["Body"] for m in response["messages"]}
    assert len(failed) == 1
    assert "busy" in by_key[failed.pop()]
    assert any(lone.split("/")[1] in body for body in by_key.values())
    assert buckets.document(bad_pair) is None
    assert emulator.stats()["calls"] == 1 + 4  # API_MAX_ATTEMPTS


def test_a_failing_pair_with_both_halves_in_one_batch_is_tried_once(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
) -> None:
    pair_id = unique_pair()
    emulator.set_faults(Faults(script=("SERVICE_INTERNAL_ERROR",) * 8))
    buckets.upload(pair_id, "target", images.as_jpeg())
    buckets.upload(pair_id, "template", images.as_png(), "png")
    response = function.deliver()
    # Both messages go back (either may be the one that completes the pair later) ...
    assert len(response["batchItemFailures"]) == 2
    # ... but the API saw one round of attempts, not two
    assert emulator.stats()["calls"] == 4
