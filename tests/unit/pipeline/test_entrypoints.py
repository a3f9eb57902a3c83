"""The entry points on in-memory fakes: hand-backs, time running out, ad-hoc errors."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from portrait_fusion.core.errors import InvalidEventError, PairInProgressError
from portrait_fusion.entry.entrypoints import MIN_SECONDS_TO_START, EntryPoints
from portrait_fusion.entry.hand_back import HandBack
from portrait_fusion.entry.visibility import QueueLimits, VisibilityPolicy
from portrait_fusion.pipeline.key_resolution import KeyResolver
from tests.images import as_jpeg
from tests.unit.pipeline.fakes import World, invocation, world

QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:fusion"


@dataclass
class FakeQueues:
    """A queue that records the visibility changes of handed-back messages."""

    changes: list[tuple[str, int]] = field(default_factory=list)

    def limits(self, queue_arn: str) -> QueueLimits:
        del queue_arn
        return QueueLimits(
            visibility_timeout_seconds=900, retention_seconds=345_600, max_receive_count=5
        )

    def change_visibility(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        del queue_arn
        self.changes.append((receipt_handle, seconds))


def _entrypoints(w: World, queues: FakeQueues) -> EntryPoints:
    hand_back = HandBack(queues, VisibilityPolicy(lambda: 0.0), clock=lambda: 1_000.0)
    resolver = KeyResolver(w.storage, w.pipeline.naming)
    return EntryPoints(w.pipeline, ThreadPoolExecutor(max_workers=2), resolver, hand_back)


def _message(message_id: str, key: str) -> dict[str, Any]:
    notification = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "in"}, "object": {"key": key, "size": 1}},
            }
        ]
    }
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": json.dumps(notification),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1000000"},
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
    }


def _pair(w: World, pair: str) -> None:
    w.storage.put("in", f"incoming/{pair}/target.jpg", as_jpeg(size=(300, 300)))
    w.storage.put("in", f"incoming/{pair}/template.jpg", as_jpeg("grace_hopper.jpg"))


def test_out_of_time_the_later_messages_are_handed_back_and_the_first_runs() -> None:
    w, queues = world(), FakeQueues()
    _pair(w, "p1")
    _pair(w, "p2")
    event = {
        "Records": [
            _message("m1", "incoming/p1/target.jpg"),
            _message("m2", "incoming/p2/target.jpg"),
        ]
    }
    answer = _entrypoints(w, queues).handle(event, invocation(MIN_SECONDS_TO_START - 1))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert len(w.api.calls) == 1
    assert [handle for handle, _ in queues.changes] == ["handle-m2"]


def test_a_pair_in_progress_elsewhere_is_handed_back_with_a_visibility() -> None:
    w, queues = world(), FakeQueues()
    _pair(w, "p1")
    w.guard.in_progress = True
    event = {"Records": [_message("m1", "incoming/p1/target.jpg")]}
    answer = _entrypoints(w, queues).handle(event, invocation())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert queues.changes and queues.changes[0][0] == "handle-m1"
    assert w.api.calls == []


def test_a_malformed_message_is_handed_back_not_dropped() -> None:
    w, queues = world(), FakeQueues()
    event = {"Records": [{**_message("m1", "x"), "body": "not json"}]}
    answer = _entrypoints(w, queues).handle(event, invocation())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_an_ad_hoc_pair_returns_its_document() -> None:
    w = world()
    _pair(w, "p1")
    event = {
        "target": "s3://in/incoming/p1/target.jpg",
        "template": "s3://in/incoming/p1/template.jpg",
    }
    document = _entrypoints(w, FakeQueues()).handle(event, invocation())
    assert (document["pair_id"], document["status"]) == ("p1", "succeeded")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"target": "s3://in/incoming/p1/target.jpg"}, "template"),
        ({"target": "in/incoming/p1/target.jpg", "template": "s3://in/t.jpg"}, "target"),
        (
            {"target": "s3://in/elsewhere/a.jpg", "template": "s3://in/elsewhere/b.jpg"},
            "give a pair_id",
        ),
        ({"pair": "s3://in/incoming/"}, "exactly one pair"),
        ({"pair": "s3://in/incoming/lone/"}, "pair is not complete"),
    ],
)
def test_an_ad_hoc_request_that_names_no_pair_says_what_is_wrong(
    event: dict[str, Any], message: str
) -> None:
    w = world()
    _pair(w, "p1")
    _pair(w, "p2")
    w.storage.put("in", "incoming/lone/target.jpg", as_jpeg())
    with pytest.raises(InvalidEventError, match=message):
        _entrypoints(w, FakeQueues()).handle(event, invocation())
    assert w.api.calls == []


def _batch(*keys: str) -> dict[str, Any]:
    return {
        "invocationSchemaVersion": "2.0",
        "invocationId": "inv-1",
        "job": {"id": "job-1", "userArguments": {}},
        "tasks": [
            {"taskId": f"t{n}", "s3Bucket": "in", "s3Key": key, "s3VersionId": None}
            for n, key in enumerate(keys)
        ],
    }


def test_batch_operations_tasks_end_as_success_temporary_or_permanent_failure() -> None:
    w = world()
    _pair(w, "p1")
    _pair(w, "p2")
    event = _batch("incoming/p1/target.jpg", "incoming/gone/target.jpg")
    answer = _entrypoints(w, FakeQueues()).handle(event, invocation())
    codes = [(r["taskId"], r["resultCode"]) for r in answer["results"]]
    assert codes == [("t0", "Succeeded"), ("t1", "PermanentFailure")]
    assert answer["results"][1]["resultString"].startswith("INPUT_NOT_FOUND")
    w.guard.in_progress = True
    (busy,) = _entrypoints(w, FakeQueues()).handle(_batch("incoming/p2/target.jpg"), invocation())[
        "results"
    ]
    assert busy["resultCode"] == "TemporaryFailure"


def test_a_succeeded_task_names_its_result_and_the_version_that_holds_it() -> None:
    w = world()
    _pair(w, "p1")
    (task,) = _entrypoints(w, FakeQueues()).handle(_batch("incoming/p1/target.jpg"), invocation())[
        "results"
    ]
    document = w.storage.document("out", "results/p1/result.json")
    version = document["result"]["version_id"]
    assert task == {
        "taskId": "t0",
        "resultCode": "Succeeded",
        "resultString": f"s3://out/results/p1/result.jpg (version {version})",
    }


def test_tasks_for_two_versions_of_one_input_are_answered_each_for_its_own() -> None:
    """Both halves of a pair share a run within an invocation; an older version does not."""
    w = world()
    older_version = w.storage.put("in", "incoming/p1/target.jpg", as_jpeg(size=(280, 280)))
    _pair(w, "p1")
    event = _batch("incoming/p1/target.jpg", "incoming/p1/target.jpg")
    event["tasks"][0]["s3VersionId"] = older_version
    older, current = _entrypoints(w, FakeQueues()).handle(event, invocation())["results"]
    assert len(w.api.calls) == 2
    assert (older["resultCode"], current["resultCode"]) == ("Succeeded", "Succeeded")
    assert older["resultString"] != current["resultString"]


def test_an_empty_sqs_batch_is_a_no_op() -> None:
    w, queues = world(), FakeQueues()
    answer = _entrypoints(w, queues).handle({"Records": []}, invocation())
    assert answer == {"batchItemFailures": []}
    assert (w.storage.listed, w.storage.writes, w.api.calls, queues.changes) == ([], [], [], [])


def test_an_async_s3_event_raises_what_should_be_retried() -> None:
    w = world()
    _pair(w, "p1")
    w.guard.in_progress = True
    event = json.loads(_message("m1", "incoming/p1/target.jpg")["body"])
    with pytest.raises(PairInProgressError):
        _entrypoints(w, FakeQueues()).handle(event, invocation())
    w.guard.in_progress = False
    answer = _entrypoints(w, FakeQueues()).handle(event, invocation())
    assert answer["outcomes"][0]["status"] == "succeeded"


def test_a_notification_completing_a_pair_lists_the_pair_folder_once() -> None:
    # Resolving the event's key lists the pair's folder; the pair resolver finds the
    # partner in that same listing instead of listing again.
    w, queues = world(), FakeQueues()
    _pair(w, "p1")
    response = _entrypoints(w, queues).handle(
        {"Records": [_message("m1", "incoming/p1/template.jpg")]}, invocation()
    )
    assert response == {"batchItemFailures": []}
    assert w.storage.listed == [("in", "incoming/p1")]
    assert w.storage.document("out", "results/p1/result.json")["status"] == "succeeded"
