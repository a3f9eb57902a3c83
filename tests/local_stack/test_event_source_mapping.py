"""The local SQS event source mapping against a real SQS endpoint and worker processes."""

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local_stack.aws import MotoServer
from local_stack.esm import (
    EventSourceMapping,
    InvalidBatchResponse,
    InvalidMapping,
    messages_to_delete,
)
from tests.local_stack.support import (
    MAX_RECEIVE_COUNT,
    VISIBILITY_TIMEOUT_S,
    ScratchQueues,
    eventually,
    read_calls,
)

StartEsm = Callable[..., EventSourceMapping]


def starts(calls_file: Path) -> list[dict[str, Any]]:
    """The handler's log entries written when a call began, in order."""
    return [call for call in read_calls(calls_file) if "event" in call]


def deliveries(calls_file: Path, body: str) -> list[str]:
    """ApproximateReceiveCount of each delivery of the message with ``body``."""
    return [
        record["attributes"]["ApproximateReceiveCount"]
        for call in starts(calls_file)
        for record in call["event"]["Records"]
        if record["body"] == body
    ]


def dlq_bodies(queues: ScratchQueues) -> list[str]:
    response = queues.sqs.receive_message(QueueUrl=queues.dlq_url, MaxNumberOfMessages=10)
    return [m["Body"] for m in response.get("Messages", [])]


def test_succeeded_messages_are_deleted_after_an_event_shaped_like_lambdas(
    start_esm: StartEsm, queues: ScratchQueues, calls_file: Path, moto: MotoServer
) -> None:
    # Given a message with an attribute on the queue
    queues.sqs.send_message(
        QueueUrl=queues.url,
        MessageBody="ok",
        MessageAttributes={"origin": {"DataType": "String", "StringValue": "test"}},
    )
    # When the mapping runs
    esm = start_esm(memory_size_mb=256)
    eventually(lambda: esm.stats().messages_deleted == 1)
    # Then the message is gone and the handler saw Lambda's event and context
    assert queues.depth(queues.url) == 0
    [call] = starts(calls_file)
    [record] = call["event"]["Records"]
    assert record["body"] == "ok"
    assert record["md5OfBody"] == hashlib.md5(b"ok").hexdigest()  # noqa: S324 (SQS checksum)
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":" + queues.url.rsplit("/", 1)[1])
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["origin"] == {
        "stringValue": "test",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert call["context"]["function_name"] == "FusionFunction"
    assert call["context"]["function_version"] == "$LATEST"
    assert call["context"]["memory_limit_in_mb"] == "256"
    assert call["context"]["invoked_function_arn"].endswith(":function:FusionFunction")
    assert call["context"]["log_group_name"] == "/aws/lambda/FusionFunction"
    assert call["environ"]["AWS_ENDPOINT_URL"] == moto.endpoint_url
    assert call["environ"]["AWS_LAMBDA_FUNCTION_NAME"] == "FusionFunction"
    assert call["environ"]["CALLS_FILE"] == str(calls_file)
    assert esm.stats().invocations == 1


def test_reported_failures_come_back_and_end_in_the_dlq(
    start_esm: StartEsm, queues: ScratchQueues, calls_file: Path
) -> None:
    # Given one message the handler succeeds on and one it reports as failed, in one batch
    queues.send("ok", "fail")
    # When the mapping runs
    esm = start_esm()
    # Then the failed one is delivered maxReceiveCount times, then moved to the DLQ
    eventually(lambda: queues.depth(queues.dlq_url) == 1)
    assert dlq_bodies(queues) == ["fail"]
    assert deliveries(calls_file, "fail") == [str(n + 1) for n in range(MAX_RECEIVE_COUNT)]
    assert deliveries(calls_file, "ok") == ["1"]
    assert queues.depth(queues.url) == 0
    stats = esm.stats()
    assert (stats.messages_deleted, stats.messages_reported_failed) == (1, MAX_RECEIVE_COUNT)


@pytest.mark.parametrize(
    ("body", "counter"),
    [("raise", "invocation_errors"), ("bogus", "invocation_errors"), ("exit", "worker_crashes")],
)
def test_a_failed_batch_deletes_nothing(
    start_esm: StartEsm, queues: ScratchQueues, calls_file: Path, body: str, counter: str
) -> None:
    # Given a batch whose invocation fails as a whole (exception, invalid response, crash)
    queues.send(body, "ok")
    # When the mapping runs with batches big enough to hold both
    esm = start_esm()
    # Then neither message is deleted: both come back until they reach the DLQ
    eventually(lambda: queues.depth(queues.dlq_url) == 2)
    assert sorted(dlq_bodies(queues)) == sorted([body, "ok"])
    assert deliveries(calls_file, "ok") == ["1", "2"]
    stats = esm.stats()
    assert getattr(stats, counter) == MAX_RECEIVE_COUNT
    assert stats.messages_deleted == 0


def test_a_timed_out_worker_is_replaced_and_the_message_returns(
    start_esm: StartEsm, queues: ScratchQueues, calls_file: Path
) -> None:
    # Given a message the handler sleeps on past the timeout on its first delivery only
    queues.send("sleep-once:5")
    # When the mapping runs with a 1 s function timeout
    esm = start_esm(function_timeout_s=1.0)
    eventually(lambda: esm.stats().messages_deleted == 1)
    # Then the first invocation timed out, and a new worker handled the second delivery
    assert esm.stats().timeouts == 1
    assert deliveries(calls_file, "sleep-once:5") == ["1", "2"]
    first, second = starts(calls_file)
    assert first["pid"] != second["pid"]


def test_concurrency_n_runs_n_invocations_at_once_and_no_more(
    start_esm: StartEsm, queues: ScratchQueues, calls_file: Path
) -> None:
    # Given twice as many slow messages as workers
    concurrency = 3
    queues.send(*["sleep:1.5"] * (2 * concurrency))
    # When the mapping runs them one per batch
    esm = start_esm(concurrency=concurrency, batch_size=1)
    eventually(lambda: esm.stats().messages_deleted == 2 * concurrency)
    # Then exactly `concurrency` workers ran, and as many calls overlapped at the peak
    finished = [call for call in read_calls(calls_file) if "finished" in call]
    assert len({call["pid"] for call in finished}) == concurrency
    edges = sorted(
        [(call["started"], 1) for call in finished] + [(call["finished"], -1) for call in finished]
    )
    running = [0]
    for _, step in edges:
        running.append(running[-1] + step)
    assert max(running) == concurrency


def test_remaining_time_counts_down_from_the_function_timeout(
    start_esm: StartEsm, queues: ScratchQueues, calls_file: Path
) -> None:
    # Given a handler call that takes 0.3 s
    queues.send("sleep:0.3")
    # When the mapping runs with a 2 s function timeout
    esm = start_esm(function_timeout_s=2.0)
    eventually(lambda: esm.stats().messages_deleted == 1)
    # Then the context's remaining time started below 2 s and fell by about 0.3 s
    [finish] = [call for call in read_calls(calls_file) if "finished" in call]
    assert 1500 < finish["remaining_at_start_ms"] <= 2000
    assert 250 <= finish["remaining_at_start_ms"] - finish["remaining_ms"] <= 600


def test_a_function_timeout_longer_than_the_visibility_timeout_is_refused_as_by_lambda(
    start_esm: StartEsm, queues: ScratchQueues, calls_file: Path
) -> None:
    # Its messages would come back while an invocation holds them, and be delivered again.
    queues.send("ok")
    with pytest.raises(InvalidMapping, match="visibility timeout: 2 seconds is less than"):
        start_esm(function_timeout_s=VISIBILITY_TIMEOUT_S + 1)
    assert not calls_file.exists()
    assert queues.depth(queues.url) == 1


@pytest.mark.parametrize(
    ("response", "deleted"),
    [
        (None, {"a", "b"}),
        ({}, {"a", "b"}),
        ({"batchItemFailures": []}, {"a", "b"}),
        ({"batchItemFailures": None}, {"a", "b"}),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"a"}),
        ({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}, set()),
    ],
)
def test_messages_to_delete_follows_report_batch_item_failures(
    response: Any, deleted: set[str]
) -> None:
    assert messages_to_delete(["a", "b"], response) == deleted


@pytest.mark.parametrize(
    "failures",
    [
        [{"itemIdentifier": "c"}],
        [{"itemIdentifier": ""}],
        [{"itemIdentifier": None}],
        [{"id": "a"}],
        ["a"],
        "a",
    ],
)
def test_invalid_batch_item_failures_fail_the_whole_batch(failures: Any) -> None:
    with pytest.raises(InvalidBatchResponse):
        messages_to_delete(["a", "b"], {"batchItemFailures": failures})
