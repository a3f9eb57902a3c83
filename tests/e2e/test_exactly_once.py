"""Exactly once, nothing lost: duplicates, redeliveries, races, replays, replaced
inputs, timed-out invocations, and the redrive after an operational fault."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from local_stack.esm import EventSourceMapping
from ops.redrive import redrive
from tests import images
from tests.e2e.conftest import Queues, settle, start_mapping
from tests.harness import Buckets, s3_notification, unique_pair


def upload_pair(buckets: Buckets, pair_id: str, variant: int = 0) -> None:
    buckets.upload(pair_id, "target", images.as_jpeg(size=(512 + variant, 512)))
    buckets.upload(pair_id, "template", images.as_png(size=(520 + variant, 640)), "png")


def test_duplicated_notifications_and_redeliveries_make_one_call(
    mapping: EventSourceMapping,
    buckets: Buckets,
    emulator: FusionEmulator,
    queues: Queues,
    stack: LocalStack,
) -> None:
    pair_id = unique_pair()
    upload_pair(buckets, pair_id, 1)
    first = buckets.wait_for_document(pair_id)
    settle(emulator, queues)
    # S3 delivers at least once: send each notification again, twice
    notifications = [
        s3_notification(stack, f"incoming/{pair_id}/{role}.{ext}")
        for role, ext in (("target", "jpg"), ("template", "png"))
    ]
    for body in notifications * 2:
        queues.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(body))
    stats = settle(emulator, queues)
    assert (stats["calls"], stats["duplicates"]) == (1, 0)
    assert buckets.document(pair_id) == first


def hand_backs(log_file: Path, code: str) -> list[dict[str, Any]]:
    """The function's "handed back" log lines with ``code``, from its JSON logs."""
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.startswith("{")]
    return [
        line
        for line in lines
        if line.get("message") == "handed back for a later attempt" and line.get("code") == code
    ]


def test_both_halves_racing_in_two_invocations_make_one_call(
    stack: LocalStack,
    buckets: Buckets,
    emulator: FusionEmulator,
    queues: Queues,
    tmp_path: Path,
) -> None:
    # The race made certain: both halves of each pair are queued before any worker polls, so
    # the first two receives (one message each, two workers) are the two halves of the first
    # pair, and the API answers only after 3 s, far longer than the gap between the workers.
    queues.drain(stack.queue_url)
    emulator.set_faults(Faults(latency_ms=3000))
    pair_ids = [unique_pair("race") for _ in range(2)]
    for number, pair_id in enumerate(pair_ids):
        upload_pair(buckets, pair_id, 10 + number)
    log_file = tmp_path / "function.log"
    mapping = start_mapping(stack, emulator, concurrency=2, batch_size=1, log_file=log_file)
    try:
        for pair_id in pair_ids:
            assert buckets.wait_for_document(pair_id)["status"] == "succeeded"
        stats = settle(emulator, queues)
    finally:
        mapping.stop()
    # Then the race happened: a loser found its pair in progress and handed its message back
    assert hand_backs(log_file, "PAIR_IN_PROGRESS")
    assert mapping.stats().messages_reported_failed >= 1
    # and still each pair made exactly one call
    assert (stats["calls"], stats["duplicates"]) == (2, 0)


def test_replacing_an_input_runs_the_pair_again(
    mapping: EventSourceMapping,
    buckets: Buckets,
    emulator: FusionEmulator,
    queues: Queues,
) -> None:
    pair_id = unique_pair()
    upload_pair(buckets, pair_id, 20)
    first = buckets.wait_for_document(pair_id)
    settle(emulator, queues)
    buckets.upload(pair_id, "target", images.as_jpeg("grace_hopper.jpg"))
    deadline = time.monotonic() + 30
    while buckets.document(pair_id) == first and time.monotonic() < deadline:
        time.sleep(0.2)
    second = buckets.document(pair_id)
    assert second is not None
    assert second["inputs"]["target"]["etag"] != first["inputs"]["target"]["etag"]
    assert settle(emulator, queues)["calls"] == 2


def test_an_invocation_that_dies_mid_pair_leaves_no_stuck_pair(
    stack: LocalStack,
    buckets: Buckets,
    emulator: FusionEmulator,
    queues: Queues,
) -> None:
    # Lambda ends an invocation that times out (or runs out of memory) by killing its
    # sandbox. The pair's in-progress record then outlives it, until the time the
    # invocation had left runs out; a later delivery finds it expired and completes the pair.
    queues.drain(stack.queue_url)
    emulator.set_faults(Faults(latency_ms=2000))
    # As in the template, a message stays invisible for longer than the function can run.
    with queues.visibility_timeout(14):
        mapping = start_mapping(stack, emulator, concurrency=2, function_timeout_s=10)
        try:
            pair_id = unique_pair("killed")
            upload_pair(buckets, pair_id, 30)
            deadline = time.monotonic() + 30
            while not emulator.stats()["in_flight"] and time.monotonic() < deadline:
                time.sleep(0.05)
            mapping.kill_workers()  # mid-call: the pair is in progress in DynamoDB
            emulator.set_faults(Faults())
            document = buckets.wait_for_document(pair_id, timeout_s=60)
            assert document["status"] == "succeeded"
            assert mapping.stats().worker_crashes >= 1
            # The call cut off by the kill still completed on the API's side, so it may be
            # billed: the function keeps its API timeout inside the invocation's time for that.
            assert settle(emulator, queues)["merges"] == 2
        finally:
            mapping.stop()


def test_redrive_after_an_operational_fault_is_fixed(
    mapping: EventSourceMapping,
    buckets: Buckets,
    emulator: FusionEmulator,
    queues: Queues,
    stack: LocalStack,
) -> None:
    # Given pairs parked in the DLQ because the account ran out of credits (an answer that
    # asks for a retry after a second, so they get there in seconds)
    emulator.set_faults(Faults(script=("ERROR_NOT_ENOUGH_CREDITS",) * 1000, retry_after="1"))
    pair_ids = [unique_pair("credits") for _ in range(2)]
    for number, pair_id in enumerate(pair_ids):
        upload_pair(buckets, pair_id, 40 + number)
    deadline = time.monotonic() + 60
    while queues.depth(stack.dlq_url) < 4 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert queues.depth(stack.dlq_url) == 4
    assert all(buckets.document(pair_id) is None for pair_id in pair_ids)
    # When credits are topped up and the DLQ is redriven
    emulator.reset()
    assert redrive(queues.sqs, stack.dlq_url, stack.queue_url) == 4
    # Then every pair completes, each billed once
    for pair_id in pair_ids:
        assert buckets.wait_for_document(pair_id)["status"] == "succeeded"
    stats = settle(emulator, queues)
    assert (stats["merges"], stats["duplicates"]) == (2, 0)
    assert queues.depth(stack.dlq_url) == 0
