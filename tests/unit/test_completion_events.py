"""Completion events built from result documents, and the publisher's retries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from portrait_fusion.aws.storage import ObjectHead, ObjectRef
from portrait_fusion.core.errors import PairingError, PreflightError
from portrait_fusion.pairs.correlation import correlation_id
from portrait_fusion.results.completion_events import (
    CompletionEvent,
    DetailType,
    EventBridgePublisher,
    completion_event,
)
from portrait_fusion.results.result_document import FunctionInfo, PairRecord
from tests.completion import assert_valid_event

FUNCTION = FunctionInfo("FusionFunction", "$LATEST", "req-1")
DOCUMENT = ObjectRef("out", "results/p/result.json", "doc-v1")


def _document(error: Exception | None = None, etag: str = "e1") -> dict[str, Any]:
    target = ObjectRef("in", "incoming/p/target.jpg")
    template = ObjectRef("in", "incoming/p/template.png")
    record = PairRecord("p", target, template, FUNCTION)
    record.heads = {
        "target": ObjectHead(target, etag, 100, None, {}),
        "template": ObjectHead(template, "e2", 200, "v2", {}),
    }
    record.correlation_id = "order-1"
    record.result = {
        "bucket": "out",
        "key": "results/p/result.jpg",
        "version_id": "result-v1",
        "content_type": "image/jpeg",
        "size": 10,
        "width": 1,
        "height": 1,
        "sha256": "0" * 64,
    }
    return record.to_document(error)  # type: ignore[arg-type]


def _delivered(event: CompletionEvent) -> dict[str, Any]:
    """The event as a rule target receives it."""
    return {
        "source": "portrait-fusion",
        "detail-type": event.detail_type.value,
        "detail": event.detail,
    }


@pytest.mark.parametrize(
    ("error", "detail_type"),
    [
        (None, DetailType.SUCCEEDED),
        (PreflightError("too small", code="ERROR_IMAGE_TOO_SMALL"), DetailType.FAILED),
        (PairingError("no partner", code="ERROR_PARTNER_MISSING"), DetailType.EXPIRED),
    ],
)
def test_each_outcome_has_its_detail_type_and_fits_the_schema(
    error: Exception | None, detail_type: DetailType
) -> None:
    event = completion_event(_document(error), DOCUMENT)
    assert event.detail_type is detail_type
    assert_valid_event(_delivered(event))
    assert event.detail["correlation_id"] == "order-1"
    assert (event.detail["result"] is None) is (error is not None)


def test_the_event_names_the_versions_of_its_document_and_result() -> None:
    """A later merge of the pair writes both keys again: the event goes on naming these."""
    event = completion_event(_document(), DOCUMENT)
    assert event.detail["document"] == {
        "bucket": "out",
        "key": "results/p/result.json",
        "version_id": "doc-v1",
    }
    assert event.detail["result"] == {
        "bucket": "out",
        "key": "results/p/result.jpg",
        "version_id": "result-v1",
        "content_type": "image/jpeg",
    }


def test_the_event_id_depends_on_the_outcome_not_on_when_it_was_rendered() -> None:
    first = completion_event(_document(), DOCUMENT)
    again = completion_event(_document(), DOCUMENT)
    assert first.detail["finished_at"] <= again.detail["finished_at"]
    assert first.event_id == again.event_id
    other_input = completion_event(_document(etag="e9"), DOCUMENT)
    failed = completion_event(_document(PreflightError("x", code="E")), DOCUMENT)
    assert len({first.event_id, other_input.event_id, failed.event_id}) == 3


class _Client:
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, *, Entries: list[dict[str, Any]]) -> Any:
        self.calls.append(Entries)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


OK = {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}
THROTTLED = {
    "FailedEntryCount": 1,
    "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}],
}


def test_a_failed_entry_or_a_network_error_is_retried_with_the_same_entry() -> None:
    client = _Client(THROTTLED, EndpointConnectionError(endpoint_url="x"), OK)
    pauses: list[float] = []
    publisher = EventBridgePublisher(lambda: client, "bus", pause=pauses.append)
    event = completion_event(_document(), DOCUMENT)
    assert publisher.publish(event) is True
    assert len(client.calls) == 3
    assert client.calls[0] == client.calls[1] == client.calls[2]
    (entry,) = client.calls[0]
    assert entry["EventBusName"] == "bus"
    assert entry["Source"] == "portrait-fusion"
    assert entry["DetailType"] == "Pair Succeeded"
    assert json.loads(entry["Detail"])["event_id"] == event.event_id
    assert len(pauses) == 2


def test_a_publish_that_keeps_failing_returns_false_and_never_raises() -> None:
    client = _Client(THROTTLED, THROTTLED, THROTTLED)
    publisher = EventBridgePublisher(lambda: client, "bus", pause=lambda _: None)
    assert publisher.publish(completion_event(_document(), DOCUMENT)) is False
    assert len(client.calls) == 3


@pytest.mark.parametrize(
    ("target", "template", "expected"),
    [
        ({"correlation-id": "t-1"}, {"correlation-id": "p-1"}, "t-1"),
        ({}, {"correlation-id": "p-1"}, "p-1"),
        ({"correlation-id": "x" * 128}, {}, "x" * 128),
        ({"correlation-id": "x" * 129}, {"correlation-id": "p-1"}, "p-1"),
        ({"correlation-id": "tab\there"}, {}, None),
        ({"correlation-id": "é"}, {}, None),
        ({"correlation-id": ""}, {}, None),
        ({}, {}, None),
    ],
)
def test_the_correlation_id_is_the_targets_unless_invalid(
    target: dict[str, str], template: dict[str, str], expected: str | None
) -> None:
    assert correlation_id(target, template) == expected
