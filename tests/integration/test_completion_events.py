"""Completion events through EventBridge: the function puts them on the template's
bus (EVENT_BUS_NAME), the local stack's rule delivers them to a queue, and the tests read
them there as a subscriber would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from local_stack.aws import LocalStack
from local_stack.lambda_runtime import LambdaContext
from portrait_fusion.aws.storage import ObjectRef
from portrait_fusion.entry import sweep_handler
from portrait_fusion.results.completion_events import EventBridgePublisher, completion_event
from tests import images
from tests.completion import EventLog, assert_valid_event
from tests.harness import API_KEY, Buckets, unique_pair


@pytest.fixture(scope="session")
def event_log(stack: LocalStack) -> EventLog:
    return EventLog(stack)


@pytest.fixture
def sweep(configure: Any) -> Iterator[Any]:
    """Run the partner-timeout sweep handler in this process, cold after each configure."""

    def run() -> dict[str, int]:
        context = LambdaContext.create("PartnerSweepFunction", timeout_s=300, memory_mb=256)
        result: dict[str, int] = sweep_handler.lambda_handler({}, context)  # type: ignore[arg-type]
        return result

    sweep_handler.sweep.cache_clear()
    yield run
    sweep_handler.sweep.cache_clear()


def _sweep_until(sweep: Any, verdict: str, timeout_s: float = 30.0) -> dict[str, int]:
    """Sweep until a marker falls due and ends as ``verdict`` (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    verdicts: dict[str, int] = sweep()
    while not verdicts.get(verdict) and time.monotonic() < deadline:
        time.sleep(0.1)
        verdicts = sweep()
    return verdicts


def _pair(buckets: Buckets, pair_id: str, **metadata: dict[str, str]) -> None:
    buckets.upload(pair_id, "target", images.as_jpeg(), metadata=metadata.get("target"))
    buckets.upload(pair_id, "template", images.as_png(), "png", metadata=metadata.get("template"))


def test_a_merged_pair_publishes_one_pair_succeeded_event_pointing_at_its_document(
    function: Any, buckets: Buckets, event_log: EventLog, stack: LocalStack
) -> None:
    pair_id = unique_pair("event-ok")
    _pair(buckets, pair_id)
    function.deliver()
    document = buckets.document(pair_id)
    assert document is not None and document["status"] == "succeeded"
    (event,) = event_log.wait_for(pair_id, 1)
    assert_valid_event(event)
    assert event["source"] == "portrait-fusion"
    assert event["detail-type"] == "Pair Succeeded"
    detail = event["detail"]
    assert detail["status"] == "succeeded"
    # The document's key and the version holding this document, which a later merge of the
    # pair does not replace (tests/integration/test_true_documents.py goes on from there)
    stored = buckets.s3.head_object(
        Bucket=stack.output_bucket, Key=f"results/{pair_id}/result.json"
    )
    assert detail["document"] == {
        "bucket": stack.output_bucket,
        "key": f"results/{pair_id}/result.json",
        "version_id": stored["VersionId"],
    }
    assert detail["result"] == {
        "bucket": document["result"]["bucket"],
        "key": document["result"]["key"],
        "version_id": document["result"]["version_id"],
        "content_type": document["result"]["content_type"],
    }
    assert detail["error"] is None
    assert detail["correlation_id"] is None
    assert detail["finished_at"] == document["finished_at"]


def test_a_rejected_pair_publishes_one_pair_failed_event_with_its_error(
    function: Any, buckets: Buckets, event_log: EventLog
) -> None:
    pair_id = unique_pair("event-fail")
    buckets.upload(pair_id, "target", images.as_jpeg())
    buckets.upload(pair_id, "template", images.gif(), "png")
    function.deliver()
    document = buckets.document(pair_id)
    assert document is not None and document["status"] == "failed"
    (event,) = event_log.wait_for(pair_id, 1)
    assert_valid_event(event)
    assert event["detail-type"] == "Pair Failed"
    assert event["detail"]["result"] is None
    assert event["detail"]["error"] == {
        "code": document["error"]["code"],
        "stage": document["error"]["stage"],
        "message": document["error"]["message"],
    }


def test_a_replayed_pair_publishes_nothing_more(
    function: Any, buckets: Buckets, event_log: EventLog, stack: LocalStack
) -> None:
    pair_id = unique_pair("event-replay")
    _pair(buckets, pair_id)
    request = {"pair": f"s3://{stack.input_bucket}/incoming/{pair_id}/"}
    first = function.invoke(request)
    replay = function.invoke(request)
    assert replay == first  # the stored document: an idempotent hit, no second API call
    assert [e["detail-type"] for e in event_log.wait_for(pair_id, 1)] == ["Pair Succeeded"]


def test_the_correlation_id_travels_from_metadata_to_document_and_event(
    function: Any, buckets: Buckets, event_log: EventLog, assert_valid_document: Any
) -> None:
    pair_id = unique_pair("event-corr")
    _pair(
        buckets,
        pair_id,
        target={"correlation-id": "order-4711/target"},
        template={"correlation-id": "order-4711/template"},
    )
    function.deliver()
    document = assert_valid_document(buckets.document(pair_id))
    assert document["correlation_id"] == "order-4711/target"  # the target wins
    (event,) = event_log.wait_for(pair_id, 1)
    assert event["detail"]["correlation_id"] == "order-4711/target"


def test_an_invalid_correlation_id_is_ignored_for_the_other_halfs(
    function: Any, buckets: Buckets, event_log: EventLog
) -> None:
    pair_id = unique_pair("event-corr-bad")
    _pair(
        buckets,
        pair_id,
        target={"correlation-id": "x" * 129},
        template={"correlation-id": "from-the-template"},
    )
    function.deliver()
    document = buckets.document(pair_id)
    assert document is not None and document["correlation_id"] == "from-the-template"
    (event,) = event_log.wait_for(pair_id, 1)
    assert_valid_event(event)
    assert event["detail"]["correlation_id"] == "from-the-template"


def test_no_event_carries_the_api_key_or_image_bytes(
    function: Any, buckets: Buckets, event_log: EventLog
) -> None:
    pair_id = unique_pair("event-secret")
    _pair(buckets, pair_id)
    function.deliver()
    assert event_log.wait_for(pair_id, 1)
    assert event_log.raw_bodies
    for body in event_log.raw_bodies:
        assert API_KEY not in body
        assert len(body) < 4096  # a pointer to the document, never an image or base64


class _DropsFirstCall:
    """An EventBridge client whose first put_events never reaches the bus (a network fault)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.entries: list[list[dict[str, Any]]] = []

    def put_events(self, **kwargs: Any) -> Any:
        self.entries.append(kwargs["Entries"])
        if len(self.entries) == 1:
            raise EndpointConnectionError(endpoint_url="http://bus.invalid")
        return self._client.put_events(**kwargs)


def test_a_retried_publish_delivers_the_event_once_with_the_same_event_id(
    function: Any, buckets: Buckets, event_log: EventLog, stack: LocalStack
) -> None:
    pair_id = unique_pair("event-retry")
    _pair(buckets, pair_id)
    function.deliver()
    document = buckets.document(pair_id)
    assert document is not None
    (published,) = event_log.wait_for(pair_id, 1)
    events = stack.client("events")
    flaky = _DropsFirstCall(events)
    publisher = EventBridgePublisher(lambda: flaky, "default", pause=lambda _: None)
    # The same outcome published again, through a bus that drops the first try
    stored = ObjectRef(**published["detail"]["document"])
    assert publisher.publish(completion_event(document, stored))
    assert len(flaky.entries) == 2
    assert flaky.entries[0] == flaky.entries[1]
    again = event_log.wait_for(pair_id, 2)[1:]
    assert [e["detail"]["event_id"] for e in again] == [published["detail"]["event_id"]]


def test_a_lone_half_expires_and_then_completes_when_its_partner_comes(
    function: Any,
    configure: Any,
    sweep: Any,
    buckets: Buckets,
    event_log: EventLog,
    assert_valid_document: Any,
) -> None:
    configure(PARTNER_TIMEOUT_MINUTES="0.01")  # 0.6 s
    pair_id = unique_pair("event-expire")
    buckets.upload(pair_id, "target", images.as_jpeg(), metadata={"correlation-id": "lonely-4711"})
    function.deliver()
    assert buckets.document(pair_id) is None
    verdicts = _sweep_until(sweep, "expired")
    assert verdicts.get("expired") == 1
    expired = assert_valid_document(buckets.document(pair_id))
    assert expired["status"] == "failed"
    assert expired["error"]["code"] == "ERROR_PARTNER_MISSING"
    assert expired["error"]["stage"] == "pairing"
    assert "did not arrive within 0.01 minutes of the target" in expired["error"]["message"]
    assert expired["correlation_id"] == "lonely-4711"
    (event,) = event_log.wait_for(pair_id, 1)
    assert_valid_event(event)
    assert event["detail-type"] == "Pair Expired"
    assert event["detail"]["correlation_id"] == "lonely-4711"
    # A second sweep finds nothing left to expire
    assert not sweep().get("expired")
    # When the partner arrives after all
    buckets.upload(pair_id, "template", images.as_png(), "png")
    function.deliver()
    completed = assert_valid_document(buckets.document(pair_id))
    assert completed["status"] == "succeeded"
    assert [e["detail-type"] for e in event_log.wait_for(pair_id, 2)] == [
        "Pair Expired",
        "Pair Succeeded",
    ]


def test_a_half_whose_partner_came_in_time_never_expires(
    function: Any, configure: Any, sweep: Any, buckets: Buckets, event_log: EventLog
) -> None:
    configure(PARTNER_TIMEOUT_MINUTES="0.01")
    pair_id = unique_pair("event-in-time")
    buckets.upload(pair_id, "target", images.as_jpeg())
    function.deliver()
    buckets.upload(pair_id, "template", images.as_png(), "png")
    function.deliver()
    verdicts = _sweep_until(sweep, "partnered")
    assert verdicts.get("partnered") == 1
    assert not verdicts.get("expired")
    assert [e["detail-type"] for e in event_log.wait_for(pair_id, 1)] == ["Pair Succeeded"]
    document = buckets.document(pair_id)
    assert document is not None and document["status"] == "succeeded"


def test_a_result_re_used_for_an_identical_request_is_announced_too(
    function: Any, configure: Any, buckets: Buckets, event_log: EventLog, emulator: Any
) -> None:
    configure(REUSE_IDENTICAL_RESULTS="true")
    target, template = images.as_jpeg(quality=43), images.as_png()  # bytes no other test sends
    first, second = unique_pair("event-reuse"), unique_pair("event-reuse")
    for pair_id in (first, second):
        buckets.upload(pair_id, "target", target)
        buckets.upload(pair_id, "template", template, "png")
        function.deliver()
    assert emulator.stats()["merges"] == 1
    copy = buckets.document(second)
    assert copy is not None and copy["reused_from"] == first
    (event,) = event_log.wait_for(second, 1)
    assert_valid_event(event)
    assert event["detail-type"] == "Pair Succeeded"
    assert event["detail"]["result"]["key"] == copy["result"]["key"]
    assert event["detail"]["event_id"] != event_log.wait_for(first, 1)[0]["detail"]["event_id"]
