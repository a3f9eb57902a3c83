"""The API as published, through the handler: the paid-call bound across deliveries, codes
the classification parks, fails or retries (published and unknown), and retry guidance."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from tests import images
from tests.emf import metric_total
from tests.harness import Buckets, unique_pair

# Longer than the integration queue's visibility timeout (1 s): a long poll this long sees a
# handed-back message come back.
LONG_POLL_S = 2


def upload_pair(buckets: Buckets) -> str:
    pair_id = unique_pair()
    buckets.upload(pair_id, "target", images.as_jpeg())
    buckets.upload(pair_id, "template", images.as_png(), "png")
    return pair_id


def test_an_unusable_200_repeated_across_deliveries_costs_at_most_two_calls(
    function: Any,
    configure: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    sqs: Any,
    stack: LocalStack,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # One call per delivery, every answer a billed 200 without data.image, and a cold start
    # before each delivery: the bound must come from the stored mark, not from memory.
    emulator.set_faults(Faults(script=("ok_without_image",) * 8))
    configure(API_MAX_ATTEMPTS="1")
    pair_id = upload_pair(buckets)

    first = function.deliver()
    assert len(first["batchItemFailures"]) == len(first["messages"]) == 2
    assert buckets.document(pair_id) is None
    assert emulator.stats()["calls"] == 1

    configure(API_MAX_ATTEMPTS="1")
    # the handed-back messages return; the replacement is unusable too
    assert function.deliver()["batchItemFailures"] == []
    # and nothing comes back any more
    idle = sqs.receive_message(QueueUrl=stack.queue_url, WaitTimeSeconds=LONG_POLL_S)
    assert idle.get("Messages") is None

    assert emulator.stats()["calls"] == 2
    document = buckets.document(pair_id)
    assert document is not None
    assert (document["status"], document["error"]["code"]) == ("failed", "INVALID_RESPONSE")
    ids = document["api"]["unusable_request_ids"]
    assert len(ids) == 2 and all(ids) and ids[0] != ids[1]
    assert document["api"]["request_id"] == ids[1]
    assert metric_total(capsys.readouterr().out, "PaidButUnusable") == 2


def test_a_good_result_after_an_unusable_200_records_the_billed_request(
    function: Any, buckets: Buckets, emulator: FusionEmulator
) -> None:
    emulator.set_faults(Faults(script=("not_an_image", "ok")))
    pair_id = upload_pair(buckets)
    assert function.deliver()["batchItemFailures"] == []
    document = buckets.document(pair_id)
    assert document is not None and document["status"] == "succeeded"
    assert document["api"]["attempts"] == emulator.stats()["calls"] == 2
    [billed] = document["api"]["unusable_request_ids"]
    assert billed and billed != document["api"]["request_id"]


def test_error_ai_not_exists_parks_the_pair_until_the_api_is_back(
    function: Any, buckets: Buckets, emulator: FusionEmulator
) -> None:
    emulator.set_faults(Faults(script=("ERROR_AI_NOT_EXISTS",) * 2))
    pair_id = upload_pair(buckets)
    for calls in (1, 2):  # parked: handed back at once, on every delivery, never failed
        # (an operational hold waits the queue's visibility timeout, doubling by receive
        # count: each delivery waits for the messages to come back)
        response = function.deliver()
        assert len(response["batchItemFailures"]) == len(response["messages"]) == 2
        assert buckets.document(pair_id) is None
        assert emulator.stats()["calls"] == calls
    # the service is back (the script is spent): the parked pair completes
    assert function.deliver()["batchItemFailures"] == []
    assert buckets.document(pair_id)["status"] == "succeeded"  # type: ignore[index]


def test_an_unknown_4xx_code_fails_the_pair_with_that_code(
    function: Any, buckets: Buckets, emulator: FusionEmulator
) -> None:
    emulator.set_faults(Faults(script=("ERROR_NOT_PUBLISHED_YET@418", "ok")))
    pair_id = upload_pair(buckets)
    assert function.deliver()["batchItemFailures"] == []
    document = buckets.document(pair_id)
    assert document is not None
    assert (document["status"], document["error"]["code"], document["error"]["http_status"]) == (
        "failed",
        "ERROR_NOT_PUBLISHED_YET",
        418,
    )
    assert emulator.stats()["calls"] == 1


def test_an_unknown_5xx_code_is_retried(
    function: Any, configure: Any, buckets: Buckets, emulator: FusionEmulator
) -> None:
    configure(API_MAX_ATTEMPTS="3")
    emulator.set_faults(Faults(script=("ERROR_NOT_PUBLISHED_YET@507",) * 2 + ("ok",)))
    pair_id = upload_pair(buckets)
    assert function.deliver()["batchItemFailures"] == []
    document = buckets.document(pair_id)
    assert document is not None and document["status"] == "succeeded"
    assert document["api"]["attempts"] == emulator.stats()["calls"] == 3


def test_a_retry_after_longer_than_the_time_left_hands_the_pair_back_at_once(
    function: Any, buckets: Buckets, emulator: FusionEmulator
) -> None:
    # Four attempts are allowed, but the server asks for an hour: no call is wasted on it.
    emulator.set_faults(Faults(script=("EXCEEDING_LIMITS",) * 4, retry_after="3600"))
    pair_id = upload_pair(buckets)
    response = function.deliver()
    assert len(response["batchItemFailures"]) == 2
    assert buckets.document(pair_id) is None
    assert emulator.stats()["calls"] == 1


def test_an_old_style_body_records_the_precise_code(
    function: Any, buckets: Buckets, emulator: FusionEmulator
) -> None:
    emulator.set_faults(Faults(body_style="old", script=("ERROR_NO_FACE_IN_FILE",)))
    pair_id = upload_pair(buckets)
    function.deliver()
    document = buckets.document(pair_id)
    assert document is not None
    assert document["error"]["code"] == "ERROR_NO_FACE_IN_FILE"  # not FILE_CONTENT_NON_COMPLIANCE
