"""Throw-away queues for the local stack's tests, on the session's AWS endpoint (the `moto`
fixture of tests/conftest.py)."""

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.aws import MotoServer, local_client
from local_stack.esm import EventSourceMapping
from tests.local_stack.support import (
    HANDLER,
    MAX_RECEIVE_COUNT,
    VISIBILITY_TIMEOUT_S,
    ScratchQueues,
)


@pytest.fixture
def queues(moto: MotoServer) -> ScratchQueues:
    sqs = local_client("sqs", moto.endpoint_url)
    name = f"esm-{uuid.uuid4().hex[:12]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT_S),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    return ScratchQueues(sqs, url, dlq_url)


@pytest.fixture
def calls_file(tmp_path: Path) -> Path:
    return tmp_path / "calls.jsonl"


@pytest.fixture
def start_esm(
    moto: MotoServer, queues: ScratchQueues, calls_file: Path
) -> Iterator[Callable[..., EventSourceMapping]]:
    """Start a mapping from ``queues.url`` to the test handler; stopped at teardown."""
    started: list[EventSourceMapping] = []

    def start(**options: Any) -> EventSourceMapping:
        esm = EventSourceMapping(
            queues.url,
            handler=HANDLER,
            env={"CALLS_FILE": str(calls_file)},
            endpoint_url=moto.endpoint_url,
            **{"function_timeout_s": float(VISIBILITY_TIMEOUT_S), **options},
        )
        started.append(esm)
        esm.start()
        return esm

    yield start
    for esm in started:
        esm.stop()
