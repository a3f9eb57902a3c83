"""Through the front door: upload to S3, wait for result.json (the README's local stack)."""

from __future__ import annotations

import json
import time
from typing import Any

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from local_stack.esm import EventSourceMapping
from tests import images
from tests.e2e.conftest import MAX_RECEIVE_COUNT, Queues, settle, start_mapping
from tests.harness import Buckets, unique_pair


def test_pairs_in_both_arrival_orders_succeed(
    mapping: EventSourceMapping,
    buckets: Buckets,
    emulator: FusionEmulator,
    queues: Queues,
    assert_valid_document: Any,
) -> None:
    first, second = unique_pair("target-first"), unique_pair("template-first")
    # distinct inputs: the emulator counts a repeated (target, template) merge as a duplicate
    buckets.upload(first, "target", images.as_jpeg())
    buckets.upload(second, "template", images.as_png(size=(500, 620)), "png")
    time.sleep(0.5)  # the lone halves are consumed and wait
    buckets.upload(first, "template", images.as_png(), "png")
    buckets.upload(second, "target", images.as_jpeg())
    for pair_id in (first, second):
        document = assert_valid_document(buckets.wait_for_document(pair_id))
        assert document["status"] == "succeeded"
        assert document["function"]["name"] == "FusionFunction"
    stats = settle(emulator, queues)
    assert (stats["calls"], stats["duplicates"]) == (2, 0)


def test_a_preflight_reject_and_an_api_reject(
    mapping: EventSourceMapping,
    buckets: Buckets,
    emulator: FusionEmulator,
    queues: Queues,
) -> None:
    gray, faceless = unique_pair("gray"), unique_pair("faceless")
    buckets.upload(gray, "target", images.grayscale_l())
    buckets.upload(gray, "template", images.as_png(), "png")
    buckets.upload(faceless, "target", images.as_jpeg())
    buckets.upload(faceless, "template", images.gradient())
    assert buckets.wait_for_document(gray)["error"]["code"] == "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE"
    assert buckets.wait_for_document(faceless)["error"]["code"] == "ERROR_NO_FACE_IN_FILE"
    assert settle(emulator, queues)["calls"] == 1  # only the faceless pair reached the API


def test_a_transient_fault_succeeds_on_a_later_delivery(
    stack: LocalStack,
    buckets: Buckets,
    emulator: FusionEmulator,
    queues: Queues,
) -> None:
    # More failures than one invocation's attempts: the message goes back to the queue, and
    # the next delivery succeeds. The API asks for a retry after a second, so the pair is
    # back within seconds.
    queues.drain(stack.queue_url)
    queues.drain(stack.dlq_url)
    emulator.set_faults(Faults(script=("AI_SERVICE_FLOW_RESTRICTION",) * 3, retry_after="1"))
    mapping = start_mapping(stack, emulator, API_MAX_ATTEMPTS="2")
    try:
        pair_id = unique_pair()
        buckets.upload(pair_id, "target", images.as_jpeg())
        buckets.upload(pair_id, "template", images.as_png(), "png")
        document = buckets.wait_for_document(pair_id)
        assert document["status"] == "succeeded"
        assert settle(emulator, queues)["calls"] == 4
    finally:
        mapping.stop()


def test_a_persistent_fault_ends_in_the_dlq(
    mapping: EventSourceMapping,
    buckets: Buckets,
    emulator: FusionEmulator,
    queues: Queues,
    stack: LocalStack,
) -> None:
    # (an answer that asks for a retry after a second, so the pair gets there in seconds)
    emulator.set_faults(Faults(script=("ERROR_NOT_ENOUGH_CREDITS",) * 100, retry_after="1"))
    pair_id = unique_pair()
    buckets.upload(pair_id, "target", images.as_jpeg())
    buckets.upload(pair_id, "template", images.as_png(), "png")
    deadline = time.monotonic() + 60
    while queues.depth(stack.dlq_url) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    bodies = queues.dlq_bodies()
    keys = sorted(json.loads(body)["Records"][0]["s3"]["object"]["key"] for body in bodies)
    assert len(keys) == 2 and all(pair_id in key for key in keys)
    assert buckets.document(pair_id) is None
    # one call per delivery (no in-function retries for an operational fault), no more
    calls = emulator.stats()["calls"]
    assert MAX_RECEIVE_COUNT <= calls <= 2 * MAX_RECEIVE_COUNT
