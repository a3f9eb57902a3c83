"""Messages an invocation pulls from the queue itself (beyond the mapping's batch) keep every
guarantee of the mapping's: a crash loses none, and one that keeps failing ends in the DLQ.

One execution environment and one message per batch: whatever else the queue has in flight
while it works, the function pulled."""

from __future__ import annotations

import json
import time
from pathlib import Path

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from tests import images
from tests.e2e.conftest import Queues, settle, start_mapping
from tests.function_logs import metric_total
from tests.harness import Buckets, s3_notification, unique_pair

# An invocation pulls while its time covers two calls at the API timeout and the outputs: a
# short API timeout lets this tier's short invocations pull.
PULLING = {"API_TIMEOUT_SECONDS": "5"}


def in_flight(queues: Queues, stack: LocalStack) -> int:
    """Messages of the fusion queue received and not yet deleted or returned."""
    attributes = queues.sqs.get_queue_attributes(
        QueueUrl=stack.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


def queue_templates(
    buckets: Buckets, queues: Queues, stack: LocalStack, label: str, pairs: int = 3
) -> list[str]:
    """Pairs whose targets are in already: each template's upload is the pair's one message."""
    pair_ids = [unique_pair(label) for _ in range(pairs)]
    for number, pair_id in enumerate(pair_ids):
        buckets.upload(pair_id, "target", images.as_jpeg(size=(560 + number, 512)))
    queues.drain(stack.queue_url)
    for pair_id in pair_ids:
        buckets.upload(pair_id, "template", images.as_png(), "png")
    return pair_ids


def test_an_environment_that_dies_holding_pulled_messages_loses_none(
    stack: LocalStack, buckets: Buckets, emulator: FusionEmulator, queues: Queues
) -> None:
    queues.drain(stack.queue_url)
    queues.drain(stack.dlq_url)
    emulator.set_faults(Faults(latency_ms=3000))
    # As in the template, a message stays invisible for longer than the function can run;
    # and the function has time to pull beside its first call (`pull_threshold`).
    with queues.visibility_timeout(18):
        pair_ids = queue_templates(buckets, queues, stack, "held")
        mapping = start_mapping(stack, emulator, concurrency=1, function_timeout_s=15, **PULLING)
        try:
            # Given the environment's call in flight and a message it pulled itself beside it
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if emulator.stats()["in_flight"] and in_flight(queues, stack) >= 2:
                    break
                time.sleep(0.05)
            assert in_flight(queues, stack) >= 2
            # When it dies
            mapping.kill_workers()
            emulator.set_faults(Faults())
            # Then the pulled message comes back (once the dead invocation's time is over), and
            # every pair completes
            for pair_id in pair_ids:
                assert buckets.wait_for_document(pair_id, timeout_s=90)["status"] == "succeeded"
            assert mapping.stats().worker_crashes >= 1
            settle(emulator, queues)
            assert queues.depth(stack.queue_url) == 0
            assert queues.depth(stack.dlq_url) == 0
        finally:
            mapping.stop()


def test_a_malformed_message_the_function_pulled_still_ends_in_the_dlq(
    stack: LocalStack,
    buckets: Buckets,
    emulator: FusionEmulator,
    queues: Queues,
    tmp_path: Path,
) -> None:
    queues.drain(stack.queue_url)
    queues.drain(stack.dlq_url)
    emulator.set_faults(Faults(latency_ms=2000))
    (pair_id,) = queue_templates(buckets, queues, stack, "beside-bad", pairs=1)
    # Queued behind the pair: the mapping's batch is the pair, and the function pulls this
    # one while the pair's call is in flight.
    queues.sqs.send_message(QueueUrl=stack.queue_url, MessageBody="not an S3 event")
    log_file = tmp_path / "function.log"
    # A function that times out sooner than the stack's, so that the message's returns (each
    # after the invocation's time at most) and the DLQ come within the test's minute.
    with queues.visibility_timeout(18):
        # A 3 s API timeout (the call takes 2 s): the invocation pulls while 10 s are left,
        # which leaves a loaded machine 5 s for the worker's start and the pair's reads.
        mapping = start_mapping(
            stack,
            emulator,
            concurrency=1,
            function_timeout_s=15,
            log_file=log_file,
            API_TIMEOUT_SECONDS="3",
        )
        try:
            deadline = time.monotonic() + 80
            while not queues.depth(stack.dlq_url) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert queues.dlq_bodies() == ["not an S3 event"]
            assert buckets.wait_for_document(pair_id)["status"] == "succeeded"
            settle(emulator, queues)
        finally:
            mapping.stop()
    # The function pulled it, and did not delete it: it came back until SQS moved it to the
    # DLQ on its receive beyond maxReceiveCount.
    assert metric_total(log_file, "MessagesPulled") >= 1


def test_pulled_duplicates_and_both_halves_at_once_make_one_call_per_pair(
    stack: LocalStack,
    buckets: Buckets,
    emulator: FusionEmulator,
    queues: Queues,
    tmp_path: Path,
) -> None:
    queues.drain(stack.queue_url)
    emulator.set_faults(Faults(latency_ms=500))
    # Given pairs whose halves are queued together, and every notification twice (S3
    # delivers at least once), before any environment reads the queue
    pair_ids = [unique_pair("pulled-twice") for _ in range(4)]
    for number, pair_id in enumerate(pair_ids):
        target = buckets.upload(pair_id, "target", images.as_jpeg(size=(580 + number, 512)))
        template = buckets.upload(pair_id, "template", images.as_png(), "png")
        for key in (target, template):
            body = json.dumps(s3_notification(stack, key))
            queues.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
    log_file = tmp_path / "function.log"
    # When two environments work through them, pulling beyond their batches of one
    mapping = start_mapping(stack, emulator, concurrency=2, log_file=log_file, **PULLING)
    try:
        for pair_id in pair_ids:
            assert buckets.wait_for_document(pair_id)["status"] == "succeeded"
        stats = settle(emulator, queues)
    finally:
        mapping.stop()
    # Then each pair was merged once, whichever invocation pulled which copy
    assert (stats["merges"], stats["duplicates"]) == (len(pair_ids), 0)
    assert metric_total(log_file, "MessagesPulled") >= 1
