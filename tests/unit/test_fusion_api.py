"""The API client's retry policy, on a fake transport (no network): the provider's backoff
inside the time left, `Retry-After` honoured, a key re-read on 401, `PROCESSING_FAILURE`
retried once, and at most one replacement call after a billed 200 that could not be used."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from portrait_fusion.api.api_key import ApiKey, ApiKeyProvider
from portrait_fusion.api.call_ahead import CallAhead
from portrait_fusion.api.call_slot import CallSlot
from portrait_fusion.api.fusion_api import FusionApiClient, MergeRequest, Upload, new_session
from portrait_fusion.api.paid_calls import InMemoryPaidCallMarks
from portrait_fusion.core.errors import (
    OperationalApiError,
    OutOfTimeError,
    PermanentApiError,
    StorageError,
    TransientApiError,
)
from portrait_fusion.guards.call_budget import BudgetExhaustedError
from portrait_fusion.pairs.payer import NO_PAYER, Payer
from tests import images

RESULT = images.as_jpeg(size=(300, 300))


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def ok(request_id: str = "r1") -> Reply:
    return Reply(
        200,
        json.dumps(
            {
                "request_id": request_id,
                "log_id": "l1",
                "error_code": 0,
                "data": {"image": base64.b64encode(RESULT).decode()},
            }
        ).encode(),
    )


def fail(status: int, code: str, retry_after: str | None = None) -> Reply:
    body = json.dumps(
        {"request_id": "r1", "log_id": "l1", "error_detail": {"code": code, "message": code}}
    ).encode()
    return Reply(status, body, {"Retry-After": retry_after} if retry_after else {})


def unusable(request_id: str) -> Reply:
    """A billed 200 whose image is no image."""
    image = base64.b64encode(b"%PDF-1").decode()
    return Reply(200, json.dumps({"request_id": request_id, "data": {"image": image}}).encode())


class ScriptedAdapter(BaseAdapter):
    """Answers each request with the next scripted (status, body); records what was sent."""

    def __init__(self, script: list[Reply | tuple[int, bytes] | Exception]) -> None:
        super().__init__()
        self.script: Iterator[Reply | tuple[int, bytes] | Exception] = iter(script)
        self.sent: list[requests.PreparedRequest] = []
        self.bodies: list[bytes] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        body = request.body
        self.bodies.append(body.read() if hasattr(body, "read") else bytes(body or b""))
        step = next(self.script)
        if isinstance(step, Exception):
            raise step
        reply = step if isinstance(step, Reply) else Reply(status=step[0], body=step[1])
        response = requests.Response()
        response.status_code, response._content = reply.status, reply.body
        response._content_consumed = True
        response.headers["Content-Type"] = "application/json"
        response.headers.update(reply.headers)
        response.request = request
        return response

    def close(self) -> None:
        pass


class FakeKeys(ApiKeyProvider):
    def __init__(self, *values: str) -> None:
        self.values = list(values)
        self.reads = 0

    def get(self, *, refresh: bool = False) -> ApiKey:
        if refresh or not self.reads:
            self.reads += 1
        return ApiKey(self.values[min(self.reads, len(self.values)) - 1])


def client(
    script: list[Any],
    keys: FakeKeys | None = None,
    max_attempts: int = 4,
    sleeps: list[float] | None = None,
    marks: InMemoryPaidCallMarks | None = None,
) -> tuple[FusionApiClient, ScriptedAdapter]:
    adapter = ScriptedAdapter(script)
    session = new_session()
    session.mount("https://", adapter)
    slept = sleeps if sleeps is not None else []
    api = FusionApiClient(
        session,
        "https://api.test/face-fusion",
        keys or FakeKeys("k1"),
        timeout_seconds=30,
        max_attempts=max_attempts,
        marks=marks,
        sleep=slept.append,
        jitter=lambda: 0.5,  # the middle of the jitter band: each delay is its nominal step
    )
    return api, adapter


TARGET = Upload("target.jpg", images.as_jpeg(), "image/jpeg")
TEMPLATE = Upload("template.png", images.as_png(), "image/png")


def merge(api: FusionApiClient, similarity: float | None = 0.6, seconds: float = 100.0) -> Any:
    return api.merge(MergeRequest(TARGET, TEMPLATE, similarity), seconds_left=lambda: seconds)


def test_success_sends_a_multipart_body_with_real_types_and_the_key_header() -> None:
    api, adapter = client([ok()])
    result = merge(api)
    assert result.image == RESULT
    assert (result.info.width, result.attempts, result.request_id) == (300, 1, "r1")
    request = adapter.sent[0]
    assert request.headers["ailabapi-api-key"] == "k1"
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    body = adapter.bodies[0]
    assert b'name="image_target"; filename="target.jpg"' in body
    assert b"Content-Type: image/png" in body
    assert b'name="source_similarity"\r\n\r\n0.6' in body


def test_similarity_is_not_sent_when_unset() -> None:
    api, adapter = client([ok()])
    merge(api, similarity=None)
    assert b"source_similarity" not in adapter.bodies[0]


def test_transient_errors_are_retried_after_about_1_2_4_seconds() -> None:
    sleeps: list[float] = []
    api, _ = client(
        [
            fail(503, "AI_SERVICE_FLOW_RESTRICTION"),
            fail(429, "EXCEEDING_LIMITS"),
            requests.ConnectionError("reset"),
            ok(),
        ],
        sleeps=sleeps,
    )
    result = merge(api)
    assert result.attempts == 4
    assert sleeps == [1.0, 2.0, 4.0]


def test_transient_errors_are_handed_back_after_the_last_attempt() -> None:
    api, adapter = client([fail(502, "AI_SERVICE_ERROR")] * 3, max_attempts=3)
    with pytest.raises(TransientApiError) as caught:
        merge(api)
    assert (caught.value.code, caught.value.attempts, len(adapter.sent)) == (
        "AI_SERVICE_ERROR",
        3,
        3,
    )


def test_no_retry_when_the_backoff_would_outlast_the_invocation() -> None:
    api, adapter = client([fail(500, "SERVICE_INTERNAL_ERROR"), ok()])
    with pytest.raises(TransientApiError):
        merge(api, seconds=1.9)  # a 1 s wait and a 1 s call do not fit
    assert len(adapter.sent) == 1


def test_no_call_at_all_without_time() -> None:
    api, adapter = client([ok()])
    with pytest.raises(OutOfTimeError):
        merge(api, seconds=0.5)
    assert adapter.sent == []


@pytest.mark.parametrize("code", ["ERROR_NO_FACE_IN_FILE", "FILE_DECODING_FAILURE"])
def test_permanent_errors_are_not_retried(code: str) -> None:
    api, adapter = client([fail(422, code), ok()])
    with pytest.raises(PermanentApiError) as caught:
        merge(api)
    assert (caught.value.code, caught.value.request_id, len(adapter.sent)) == (code, "r1", 1)


@pytest.mark.parametrize(
    ("status", "code"), [(403, "ERROR_USER_LOCKED"), (429, "ERROR_NOT_ENOUGH_CREDITS")]
)
def test_operational_errors_are_handed_back_at_once(status: int, code: str) -> None:
    api, adapter = client([fail(status, code), ok()])
    with pytest.raises(OperationalApiError):
        merge(api)
    assert len(adapter.sent) == 1


def test_a_401_re_reads_the_secret_once_and_uses_a_rotated_key() -> None:
    keys = FakeKeys("old", "new")
    api, adapter = client([fail(401, "ERROR_USER_NOT_EXISTS"), ok()], keys=keys)
    assert merge(api).attempts == 2
    assert [r.headers["ailabapi-api-key"] for r in adapter.sent] == ["old", "new"]


def test_a_401_with_an_unchanged_key_is_operational() -> None:
    keys = FakeKeys("same", "same")
    api, adapter = client([fail(401, "ERROR_USER_NOT_EXISTS"), ok()], keys=keys)
    with pytest.raises(OperationalApiError) as caught:
        merge(api)
    assert (keys.reads, len(adapter.sent)) == (2, 1)
    assert "same" not in str(caught.value)


def test_timeouts_are_transient_with_their_own_code() -> None:
    api, _ = client([requests.ReadTimeout("slow")], max_attempts=1)
    with pytest.raises(TransientApiError) as caught:
        merge(api)
    assert caught.value.code == "API_TIMEOUT"


def test_a_dribbling_answer_is_cut_off_at_the_deadline() -> None:
    # requests' timeout bounds each read; the client bounds the whole answer.
    ticks = iter(range(0, 1000, 10))  # every clock reading is 10 s later than the last
    big = 200, b"x" * (3 * 256 * 1024)
    adapter = ScriptedAdapter([big])
    session = new_session()
    session.mount("https://", adapter)
    api = FusionApiClient(
        session,
        "https://api.test/face-fusion",
        FakeKeys("k1"),
        timeout_seconds=15,
        max_attempts=1,
        sleep=lambda _: None,
        clock=lambda: float(next(ticks)),
    )
    with pytest.raises(TransientApiError) as caught:
        merge(api)
    assert caught.value.code == "API_TIMEOUT"


def test_similarity_is_sent_as_a_plain_decimal() -> None:
    api, adapter = client([ok()])
    merge(api, similarity=1e-05)
    assert b'name="source_similarity"\r\n\r\n0.00001\r\n' in adapter.bodies[0]


def test_retry_after_in_seconds_is_waited_when_longer_than_the_backoff() -> None:
    sleeps: list[float] = []
    api, _ = client([fail(503, "ERROR_RESOURCE_UNAVAILABLE", retry_after="5"), ok()], sleeps=sleeps)
    assert merge(api).attempts == 2
    assert sleeps == [5.0]


def test_a_shorter_retry_after_does_not_shorten_the_backoff() -> None:
    sleeps: list[float] = []
    api, _ = client(
        [fail(502, "AI_SERVICE_ERROR"), fail(429, "EXCEEDING_LIMITS", retry_after="1"), ok()],
        sleeps=sleeps,
    )
    merge(api)
    assert sleeps == [1.0, 2.0]


def test_a_retry_after_past_the_time_left_hands_back_with_the_hint() -> None:
    api, adapter = client([fail(429, "EXCEEDING_LIMITS", retry_after="120"), ok()])
    with pytest.raises(TransientApiError) as caught:
        merge(api, seconds=60)
    assert (len(adapter.sent), caught.value.retry_after) == (1, 120.0)


def test_processing_failure_is_retried_once() -> None:
    api, adapter = client([fail(500, "PROCESSING_FAILURE")] * 3 + [ok()], max_attempts=4)
    with pytest.raises(TransientApiError) as caught:
        merge(api)
    assert (caught.value.code, caught.value.attempts, len(adapter.sent)) == (
        "PROCESSING_FAILURE",
        2,
        2,
    )


def test_an_unusable_200_buys_one_replacement_then_fails_with_both_request_ids() -> None:
    api, adapter = client([unusable("paid-1"), (200, b'{"data": {"ima'), ok()], max_attempts=4)
    with pytest.raises(PermanentApiError) as caught:
        merge(api)
    error = caught.value
    assert (error.code, error.attempts, len(adapter.sent)) == ("INVALID_RESPONSE", 2, 2)
    assert error.unusable_request_ids == ("paid-1", None)  # a truncated body has no id


def test_a_result_after_an_unusable_200_records_the_billed_one() -> None:
    api, _ = client([unusable("paid-1"), ok("r2")])
    result = merge(api)
    assert (result.request_id, result.unusable_request_ids, result.attempts) == (
        "r2",
        ("paid-1",),
        2,
    )


def test_the_paid_call_bound_holds_across_deliveries_of_one_pair() -> None:
    marks = InMemoryPaidCallMarks()
    script = [unusable("paid-1"), fail(502, "AI_SERVICE_ERROR"), unusable("paid-2"), ok()]
    api, adapter = client(script, max_attempts=2, marks=marks)
    with pytest.raises(TransientApiError):  # first delivery: billed once, then a 502
        merge_pair(api, "pair-a")
    with pytest.raises(PermanentApiError) as caught:  # second: the replacement, unusable too
        merge_pair(api, "pair-a")
    assert caught.value.unusable_request_ids == ("paid-1", "paid-2")
    with pytest.raises(PermanentApiError) as again:  # its document unwritten: no third call
        merge_pair(api, "pair-a")
    assert (again.value.attempts, again.value.code) == (0, "INVALID_RESPONSE")
    assert len(adapter.sent) == 3
    assert merge_pair(api, "pair-b").attempts == 1  # another pair version has its own bound


def merge_pair(
    api: FusionApiClient, pair_key: str, ahead: CallAhead | None = None, payer: Payer = NO_PAYER
) -> Any:
    request = MergeRequest(TARGET, TEMPLATE, None, pair_key=pair_key, payer=payer, ahead=ahead)
    return api.merge(request, seconds_left=lambda: 100.0)


class CountingMarks(InMemoryPaidCallMarks):
    """Paid-call marks that count their reads, and can fail them."""

    def __init__(self, error: Exception | None = None) -> None:
        super().__init__()
        self.reads: list[str] = []
        self.error = error

    def unusable(self, pair_key: str) -> list[str | None]:
        self.reads.append(pair_key)
        if self.error is not None:
            raise self.error
        return super().unusable(pair_key)


def read_ahead_client(
    marks: CountingMarks,
    executor: ThreadPoolExecutor,
    script: list[Any] | None = None,
    allowance: Allowance | None = None,
    slot: CallSlot | None = None,
) -> tuple[FusionApiClient, FakeKeys]:
    keys = FakeKeys("k1")
    session = new_session()
    session.mount("https://", ScriptedAdapter(script or [ok(), ok()]))
    api = FusionApiClient(
        session,
        "https://api.test/face-fusion",
        keys,
        timeout_seconds=30,
        max_attempts=2,
        marks=marks,
        executor=executor,
        allowance=allowance,
        slot=slot,
        sleep=lambda _: None,
    )
    return api, keys


def test_a_read_ahead_is_what_the_merge_uses_instead_of_reading_again() -> None:
    marks = CountingMarks()
    with ThreadPoolExecutor(max_workers=2) as executor:
        api, keys = read_ahead_client(marks, executor)
        ahead = api.read_ahead("pair-a", NO_PAYER)
        assert merge_pair(api, "pair-a", ahead).attempts == 1
        assert (marks.reads, keys.reads) == (["pair-a"], 1)
        # A pair nobody read ahead for is read when its merge starts.
        merge_pair(api, "pair-b")
    assert marks.reads == ["pair-a", "pair-b"]


def test_a_read_ahead_that_failed_fails_the_merge_with_its_error() -> None:
    unavailable = StorageError("paid-call marks unavailable", code="STORAGE_ERROR")
    with ThreadPoolExecutor(max_workers=2) as executor:
        api, _ = read_ahead_client(CountingMarks(unavailable), executor)
        ahead = api.read_ahead("pair-a", NO_PAYER)
        with pytest.raises(StorageError) as caught:
            merge_pair(api, "pair-a", ahead)
    assert caught.value is unavailable


ACME = Payer(tenant="acme", owner="alice")


@dataclass
class Allowance:
    """A call budget that records what it reserves and gets back; `left` units in all."""

    left: int = 100
    reserved: list[Payer] = field(default_factory=list)
    given_back: int = 0
    reserving: threading.Event = field(default_factory=threading.Event)

    def reserve(self, payer: Payer) -> Any:
        self.reserving.set()
        if not self.left:
            raise BudgetExhaustedError("spent", retry_after=60)
        self.left -= 1
        self.reserved.append(payer)
        return self

    def give_back(self) -> None:
        self.left += 1
        self.given_back += 1


def test_the_first_call_spends_the_unit_reserved_ahead_and_retries_reserve_their_own() -> None:
    allowance = Allowance()
    with ThreadPoolExecutor(max_workers=2) as executor:
        api, _ = read_ahead_client(
            CountingMarks(), executor, [fail(500, "HTTP_500"), ok()], allowance
        )
        ahead = api.read_ahead("pair-a", ACME)
        assert merge_pair(api, "pair-a", ahead, ACME).attempts == 2
        ahead.close()  # taken by the merge: nothing left to give back
    # The 500 was not billed: its unit came back; the 200 keeps the retry's.
    assert allowance.reserved == [ACME, ACME]
    assert (allowance.given_back, allowance.left) == (1, 99)


def test_a_unit_reserved_ahead_for_a_merge_that_never_came_is_given_back() -> None:
    allowance = Allowance()
    with ThreadPoolExecutor(max_workers=2) as executor:
        api, _ = read_ahead_client(CountingMarks(), executor, allowance=allowance)
        api.read_ahead("pair-a", NO_PAYER).close()  # e.g. the pair was done already
    assert allowance.left == 100


def test_a_spent_budget_stops_the_merge_before_any_call() -> None:
    allowance = Allowance(left=0)
    with ThreadPoolExecutor(max_workers=2) as executor:
        api, _ = read_ahead_client(CountingMarks(), executor, [], allowance)
        ahead = api.read_ahead("pair-a", NO_PAYER)
        with pytest.raises(BudgetExhaustedError):
            merge_pair(api, "pair-a", ahead)
        ahead.close()
    assert allowance.left == 0


def test_the_budget_is_reserved_while_another_call_holds_the_slot() -> None:
    """The reservation's round trip is not spent in the gap between two calls."""
    allowance, slot = Allowance(), CallSlot()
    with ThreadPoolExecutor(max_workers=3) as executor:
        api, _ = read_ahead_client(CountingMarks(), executor, allowance=allowance, slot=slot)
        with slot.held():  # another pair's call is in flight
            merging = executor.submit(merge_pair, api, "pair-a")
            assert allowance.reserving.wait(timeout=30)
            assert not merging.done()  # and this merge waits for the slot
        assert merging.result().attempts == 1
    assert allowance.reserved == [NO_PAYER]
