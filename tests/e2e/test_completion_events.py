"""Completion events end to end: uploads through the front door, the event source mapping
running the real handler in worker processes, the partner-timeout sweep on a timer of a
second, and moto's EventBridge delivering every event through the stack's rule to a queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.aws import LocalStack, aws_env
from local_stack.emulator import FusionEmulator
from local_stack.esm import EventSourceMapping
from local_stack.sweep import SweepTimer
from tests import images
from tests.completion import EventLog, assert_valid_event
from tests.e2e.conftest import Queues, settle, start_mapping
from tests.harness import API_KEY, Buckets, function_environment, s3_notification, unique_pair

# Seconds, as the tests run them: a lone half is overdue after 1.2 s, swept every 0.5 s.
PARTNER_TIMEOUT_MINUTES = "0.02"
SWEEP_INTERVAL_S = 0.5


@pytest.fixture(scope="module")
def event_log(stack: LocalStack) -> EventLog:
    return EventLog(stack)


@pytest.fixture
def running(
    stack: LocalStack, emulator: FusionEmulator, queues: Queues
) -> Iterator[EventSourceMapping]:
    """The mapping and the sweep, both with a partner timeout of about a second."""
    queues.drain(stack.queue_url)
    env = {"PARTNER_TIMEOUT_MINUTES": PARTNER_TIMEOUT_MINUTES}
    esm = start_mapping(stack, emulator, **env)
    assert stack.sweep is not None
    sweep_env = function_environment(stack, emulator.url, emulator.ca_bundle, **env)
    with SweepTimer(
        stack.sweep,
        env=sweep_env | aws_env(stack.endpoint_url, stack.region),
        interval_s=SWEEP_INTERVAL_S,
    ):
        yield esm
    esm.stop()


def test_every_terminal_outcome_is_one_event_and_a_lone_half_expires_then_completes(
    running: EventSourceMapping,
    buckets: Buckets,
    event_log: EventLog,
    assert_valid_document: Any,
    emulator: FusionEmulator,
    queues: Queues,
    stack: LocalStack,
) -> None:
    merged, rejected, lonely = (unique_pair(label) for label in ("e2e-ok", "e2e-bad", "e2e-lone"))
    buckets.upload(merged, "target", images.as_jpeg(), metadata={"correlation-id": "app-1"})
    buckets.upload(merged, "template", images.as_png(), "png")
    buckets.upload(rejected, "target", images.as_jpeg())
    buckets.upload(rejected, "template", images.gif(), "png")
    buckets.upload(lonely, "template", images.as_png(), "png", metadata={"correlation-id": "app-3"})

    (succeeded,) = event_log.wait_for(merged, 1)
    (failed,) = event_log.wait_for(rejected, 1)
    (expired,) = event_log.wait_for(lonely, 1)
    for event in (succeeded, failed, expired):
        assert_valid_event(event)
    assert succeeded["detail-type"] == "Pair Succeeded"
    assert succeeded["detail"]["correlation_id"] == "app-1"
    assert failed["detail-type"] == "Pair Failed"
    assert expired["detail-type"] == "Pair Expired"
    assert expired["detail"]["correlation_id"] == "app-3"
    document = assert_valid_document(buckets.document(lonely))
    assert document["error"]["code"] == "ERROR_PARTNER_MISSING"

    # S3 delivers at least once: the merged pair's notification again is a replay
    calls = settle(emulator, queues)["calls"]
    queues.sqs.send_message(
        QueueUrl=stack.queue_url,
        MessageBody=json.dumps(s3_notification(stack, f"incoming/{merged}/target.jpg")),
    )
    assert settle(emulator, queues)["calls"] == calls

    # The partner comes after all: the pair completes and replaces the expired document
    buckets.upload(lonely, "target", images.as_jpeg())
    _, completed = event_log.wait_for(lonely, 2)
    assert completed["detail-type"] == "Pair Succeeded"
    final = assert_valid_document(buckets.document(lonely))
    assert final["status"] == "succeeded"
    assert final["correlation_id"] == "app-3"  # the template's, as the target has none

    # Nothing more: one event per outcome, none for the expired half swept again
    assert [len(event_log.for_pair(p)) for p in (merged, rejected, lonely)] == [1, 1, 2]
    assert all(API_KEY not in body for body in event_log.raw_bodies)
