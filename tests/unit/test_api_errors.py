"""Classification of every code the API documents, old- and new-style bodies, gateway pages."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portrait_fusion.api.api_errors import ProtocolError, error_class, interpret
from portrait_fusion.core.errors import (
    Disposition,
    OperationalApiError,
    PermanentApiError,
    TransientApiError,
)

# The codes this endpoint can plausibly return, and what the API's documentation says to do
# (the whole published table is checked in test_api_codes).
DOCUMENTED = [
    (
        400,
        [
            "ERROR_PARAMETERS",
            "MISSING_PARAMETERS",
            "ERROR_INVALID_PARAMETER",
            "PARAMETERS_CANNOT_EMPTY",
            "UNSUPPORTED_PARAMETER_VALUES",
            "ERROR_INVALID_PARAMETER_FORMAT",
            "ERROR_PARAMETER_CONVERSION_FAILED",
        ],
        Disposition.FAIL,
    ),
    (401, ["ERROR_USER_NOT_EXISTS", "ERROR_APPLICATIONS_NOT_EXISTS"], Disposition.HOLD),
    (403, ["ERROR_USER_LOCKED", "ERROR_ILLEGAL_OPERATION"], Disposition.HOLD),
    (404, ["ERROR_AI_NOT_EXISTS"], Disposition.HOLD),  # deactivated: a human must act
    (
        413,
        [
            "FILE_SIZE_EXCEEDS_LIMIT",
            "FILE_RESOLUTION_EXCEEDS_LIMITS",
            "ERROR_HIGH_RESOLUTION",
            "ERROR_REQUEST_BODY_TOO_LARGE",
        ],
        Disposition.FAIL,
    ),
    (415, ["UNSUPPORTED_FILE_TYPES", "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE"], Disposition.FAIL),
    (
        422,
        [
            "FILE_DECODING_FAILURE",
            "ERROR_INVALID_FILE",
            "ERROR_ILLEGAL_FILE",
            "ERROR_LOW_RESOLUTION",
            "FILE_CONTENT_NON_COMPLIANCE",
            "ERROR_CONTENT_NON_COMPLIANCE",
            "ERROR_NO_FACE_IN_FILE",
            "ERROR_FACE_SIZE_NOT_MEET_REQUIREMENTS",
            "ERROR_FACE_SIZE_RATIO_NOT_MET",
            "ERROR_SMALL_FACE_SIZE",
            "ERROR_FACE_UNRECOGNIZABLE",
            "ERROR_POOR_FACE_QUALITY",
            "ERROR_BLURRY_FACE",
            "ERROR_OBSTRUCTED_FACE",
            "ERROR_POOR_FACE_LIGHTING",
            "ERROR_INCOMPLETE_FACE",
            "ERROR_FACE_NOT_FACING_FORWARD",
            "ERROR_CARTOON_FACE_NOT_SUPPORTED",
            "ERROR_TEMPLATE_IMAGE_QUALITY_TOO_LOW",
            "ERROR_FACE_COUNT_INVALID",
        ],
        Disposition.FAIL,
    ),
    (429, ["ERROR_NOT_ENOUGH_CREDITS"], Disposition.HOLD),
    (429, ["EXCEEDING_LIMITS"], Disposition.RETRY),
    (
        500,
        [
            "PROCESSING_FAILURE",
            "UNKNOWN_ERROR",
            "SERVICE_INTERNAL_ERROR",
            "ERROR_RESPONSE_BODY_TOO_LARGE",
        ],
        Disposition.RETRY,
    ),
    (
        502,
        [
            "ERROR_FACE_BLENDING_FAILED",
            "AI_SERVICE_ERROR",
            "AI_SERVICE_INTERNAL_ERROR",
            "ERROR_GATEWAY",
            "FILE_SERVICE_ERROR",
        ],
        Disposition.RETRY,
    ),
    (
        503,
        [
            "AI_SERVICE_FLOW_RESTRICTION",
            "ERROR_INSUFFICIENT_RESOURCES",
            "ERROR_RESOURCE_UNAVAILABLE",
        ],
        Disposition.RETRY,
    ),
    (501, ["ERROR_IMAGE_STORAGE_NOT_SUPPORTED"], Disposition.FAIL),
    (504, ["AI_SERVICE_TIMEOUT"], Disposition.RETRY),
]
CASES = [(status, code, disposition) for status, codes, disposition in DOCUMENTED for code in codes]


def new_style(status: int, code: str) -> bytes:
    return json.dumps(
        {
            "request_id": "req-1",
            "log_id": "log-1",
            "error_detail": {"code": code, "code_message": "cm", "message": f"{code} happened"},
        }
    ).encode()


def old_style(status: int, code: str) -> bytes:
    return json.dumps(
        {
            "request_id": "req-1",
            "log_id": "log-1",
            "error_code": status,
            "error_code_str": code,
            "error_msg": f"{code} happened",
            "error_detail": {
                "status_code": status,
                "code": code,
                "code_message": "cm",
                "message": f"{code} happened",
            },
        }
    ).encode()


def old_style_without_detail(status: int, code: str) -> bytes:
    return json.dumps(
        {
            "request_id": "req-1",
            "log_id": "log-1",
            "error_code": status,
            "error_code_str": code,
            "error_msg": f"{code} happened",
        }
    ).encode()


@pytest.mark.parametrize("body", [new_style, old_style, old_style_without_detail])
@pytest.mark.parametrize(("status", "code", "disposition"), CASES)
def test_every_documented_code_is_classified(
    status: int, code: str, disposition: Disposition, body: object
) -> None:
    with pytest.raises((PermanentApiError, TransientApiError, OperationalApiError)) as caught:
        interpret(status, body(status, code))  # type: ignore[operator]
    error = caught.value
    assert error.disposition is disposition
    assert (error.code, error.http_status) == (code, status)
    assert (error.request_id, error.log_id) == ("req-1", "log-1")
    assert error.message == f"{code} happened"


@pytest.mark.parametrize(("status", "code", "disposition"), CASES)
def test_the_code_wins_over_a_changed_http_status(
    status: int, code: str, disposition: Disposition
) -> None:
    # The API moved about 50 codes to other statuses once: a 400 "EXCEEDING_LIMITS" is still
    # a rate limit, and a 500 "ERROR_NO_FACE_IN_FILE" is still a bad input.
    other = 500 if status < 500 else 400
    with pytest.raises(Exception) as caught:
        interpret(other, new_style(other, code))
    assert getattr(caught.value, "disposition", None) is disposition


def test_success_returns_the_base64_image_and_ids() -> None:
    body = json.dumps(
        {
            "request_id": "r",
            "log_id": "l",
            "error_code": 0,
            "error_code_str": "",
            "error_msg": "",
            "error_detail": {"status_code": 200, "code": "", "code_message": "", "message": ""},
            "data": {"image": "aGVsbG8="},
        }
    ).encode()
    success = interpret(200, body)
    assert (success.image_base64, success.request_id, success.log_id) == ("aGVsbG8=", "r", "l")


def test_new_style_success_without_error_fields() -> None:
    body = json.dumps({"request_id": "r", "data": {"image": "aGVsbG8="}}).encode()
    assert interpret(200, body).image_base64 == "aGVsbG8="


@pytest.mark.parametrize("status", [502, 503, 504])
def test_an_html_gateway_page_is_transient(status: int) -> None:
    with pytest.raises(TransientApiError) as caught:
        interpret(status, b"<html><body>Bad Gateway</body></html>", "text/html")
    assert caught.value.code == f"HTTP_{status}"
    assert "text/html" in caught.value.message


@pytest.mark.parametrize("body", [b'{"request_id": "r", "data": {"ima', b"", b"OK", b"[1, 2]"])
def test_a_200_without_usable_json_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        interpret(200, body, "application/json")
    assert caught.value.code == "INVALID_RESPONSE"
    assert caught.value.disposition is Disposition.RETRY


def test_a_200_without_an_image_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        interpret(200, json.dumps({"request_id": "r", "error_code": 0, "data": {}}).encode())


def test_an_unknown_code_with_200_is_a_protocol_error_keeping_the_code() -> None:
    with pytest.raises(ProtocolError) as caught:
        interpret(200, new_style(200, "SOMETHING_NEW"))
    assert caught.value.code == "SOMETHING_NEW"


@given(status=st.integers(min_value=400, max_value=599))
def test_unknown_codes_fall_back_on_the_http_status(status: int) -> None:
    cls = error_class("NEVER_SEEN_BEFORE", status)
    if status in (401, 403):
        assert cls is OperationalApiError
    elif status in (408, 429) or status >= 500:
        assert issubclass(cls, TransientApiError)
    else:
        assert cls is PermanentApiError
