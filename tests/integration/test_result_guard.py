"""A bad request never replaces a good result: the failure goes back to the caller only."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.aws import LocalStack
from local_stack.emulator import FusionEmulator
from tests import images
from tests.harness import Buckets, unique_pair


def ad_hoc(stack: LocalStack, target: str, template: str, **extra: Any) -> dict[str, Any]:
    return {
        "target": f"s3://{stack.input_bucket}/{target}",
        "template": f"s3://{stack.input_bucket}/{template}",
        **extra,
    }


def test_a_bad_similarity_on_a_finished_pair_keeps_its_succeeded_document(
    function: Any,
    buckets: Buckets,
    stack: LocalStack,
    emulator: FusionEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pair_id = unique_pair("finished")
    target = buckets.upload(pair_id, "target", images.as_jpeg())
    template = buckets.upload(pair_id, "template", images.as_png(), "png")
    good = function.invoke(ad_hoc(stack, target, template))
    assert good["status"] == "succeeded"

    answer = function.invoke(ad_hoc(stack, target, template, source_similarity=1.5))

    assert answer["status"] == "failed"  # the caller hears of the failure
    assert answer["error"]["code"] == "ERROR_INVALID_PARAMETER"
    stored = buckets.document(pair_id)
    assert stored is not None
    assert (stored["status"], stored["finished_at"]) == ("succeeded", good["finished_at"])
    assert buckets.output_keys(pair_id) == [
        f"results/{pair_id}/result.jpg",
        f"results/{pair_id}/result.json",
    ]
    assert any("failure not stored" in r.getMessage() for r in caplog.records)
    assert emulator.stats()["calls"] == 1


def test_new_inputs_that_fail_do_replace_the_old_document(
    function: Any, buckets: Buckets, stack: LocalStack
) -> None:
    pair_id = unique_pair("replaced")
    target = buckets.upload(pair_id, "target", images.as_jpeg())
    template = buckets.upload(pair_id, "template", images.as_png(), "png")
    assert function.invoke(ad_hoc(stack, target, template))["status"] == "succeeded"
    buckets.upload(pair_id, "target", b"not an image at all")  # a new version, and a bad one

    answer = function.invoke(ad_hoc(stack, target, template))

    assert answer["status"] == "failed"
    stored = buckets.document(pair_id)
    assert stored is not None and stored["status"] == "failed"
