"""The API client's retry policy, on a fake transport (no network): backoff with full jitter
inside the time left, a key re-read on 401, protocol errors failed after the last attempt."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from portrait_fusion.api_key import ApiKey, ApiKeyProvider
from portrait_fusion.errors import (
    OperationalApiError,
    OutOfTimeError,
    PermanentApiError,
    TransientApiError,
)
from portrait_fusion.fusion_api import FusionApiClient, Upload, new_session
from tests import images

RESULT = images.as_jpeg(size=(300, 300))


def ok() -> tuple[int, bytes]:
    return 200, json.dumps(
        {
            "request_id": "r1",
            "log_id": "l1",
            "error_code": 0,
            "data": {"image": base64.b64encode(RESULT).decode()},
        }
    ).encode()


def fail(status: int, code: str) -> tuple[int, bytes]:
    return status, json.dumps(
        {"request_id": "r1", "log_id": "l1", "error_detail": {"code": code, "message": code}}
    ).encode()


class ScriptedAdapter(BaseAdapter):
    """Answers each request with the next scripted (status, body); records what was sent."""

    def __init__(self, script: list[tuple[int, bytes] | Exception]) -> None:
        super().__init__()
        self.script: Iterator[tuple[int, bytes] | Exception] = iter(script)
        self.sent: list[requests.PreparedRequest] = []
        self.bodies: list[bytes] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        body = request.body
        self.bodies.append(body.read() if hasattr(body, "read") else bytes(body or b""))
        step = next(self.script)
        if isinstance(step, Exception):
            raise step
        response = requests.Response()
        response.status_code, response._content = step
        response._content_consumed = True
        response.headers["Content-Type"] = "application/json"
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
        sleep=slept.append,
        jitter=lambda: 1.0,
    )
    return api, adapter


TARGET = Upload("target.jpg", images.as_jpeg(), "image/jpeg")
TEMPLATE = Upload("template.png", images.as_png(), "image/png")


def merge(api: FusionApiClient, similarity: float | None = 0.6, seconds: float = 100.0) -> Any:
    return api.merge(TARGET, TEMPLATE, similarity, seconds_left=lambda: seconds)


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


def test_transient_errors_are_retried_with_exponential_full_jitter_backoff() -> None:
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
    assert sleeps == [0.5, 1.0, 2.0]  # jitter fixed at its maximum here


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
        merge(api, seconds=1.2)
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


def test_a_protocol_error_is_retried_then_failed_with_its_code() -> None:
    not_image = 200, json.dumps({"data": {"image": base64.b64encode(b"%PDF-1").decode()}}).encode()
    api, _ = client([not_image, (200, b'{"data": {"ima'), not_image], max_attempts=3)
    with pytest.raises(PermanentApiError) as caught:
        merge(api)
    assert (caught.value.code, caught.value.attempts) == ("INVALID_RESPONSE", 3)


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
