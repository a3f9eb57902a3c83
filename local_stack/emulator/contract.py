"""The face-fusion API's wire contract: error codes, their HTTP statuses, and response bodies.

Everything here follows the API's published documentation of Merge Portraits and its
response codes; the emulator never invents a code that is not in that table.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

BodyStyle = Literal["new", "old"]

API_PATH = "/api/portrait/effects/face-fusion"
API_KEY_HEADER = "ailabapi-api-key"

_CODES_BY_STATUS: dict[int, tuple[str, ...]] = {
    400: (
        "ERROR_PARAMETERS",
        "MISSING_PARAMETERS",
        "ERROR_INVALID_PARAMETER",
        "PARAMETERS_CANNOT_EMPTY",
        "UNSUPPORTED_PARAMETER_VALUES",
        "ERROR_INVALID_PARAMETER_FORMAT",
        "ERROR_PARAMETER_CONVERSION_FAILED",
    ),
    401: ("ERROR_USER_NOT_EXISTS", "ERROR_APPLICATIONS_NOT_EXISTS"),
    403: ("ERROR_USER_LOCKED", "ERROR_ILLEGAL_OPERATION"),
    404: ("ERROR_AI_NOT_EXISTS",),
    413: (
        "FILE_SIZE_EXCEEDS_LIMIT",
        "FILE_RESOLUTION_EXCEEDS_LIMITS",
        "ERROR_HIGH_RESOLUTION",
        "ERROR_REQUEST_BODY_TOO_LARGE",
    ),
    415: ("UNSUPPORTED_FILE_TYPES", "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE"),
    422: (
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
    ),
    429: ("ERROR_NOT_ENOUGH_CREDITS", "EXCEEDING_LIMITS"),
    500: (
        "PROCESSING_FAILURE",
        "UNKNOWN_ERROR",
        "SERVICE_INTERNAL_ERROR",
        "ERROR_RESPONSE_BODY_TOO_LARGE",
    ),
    502: (
        "ERROR_FACE_BLENDING_FAILED",
        "AI_SERVICE_ERROR",
        "AI_SERVICE_INTERNAL_ERROR",
        "ERROR_GATEWAY",
        "FILE_SERVICE_ERROR",
    ),
    503: (
        "AI_SERVICE_FLOW_RESTRICTION",
        "ERROR_INSUFFICIENT_RESOURCES",
        "ERROR_RESOURCE_UNAVAILABLE",
    ),
    504: ("AI_SERVICE_TIMEOUT",),
}

STATUS_OF_CODE: dict[str, int] = {
    code: status for status, codes in _CODES_BY_STATUS.items() for code in codes
}
"""Every documented `error_detail.code` of the endpoint, mapped to its HTTP status."""

# The handful of codes the emulator's own checks raise get a human message like the real
# service's; any other code (only ever injected) gets one derived from its name.
_CODE_MESSAGES = {
    "MISSING_PARAMETERS": "Missing required parameters.",
    "ERROR_INVALID_PARAMETER": "Invalid parameter.",
    "ERROR_INVALID_PARAMETER_FORMAT": "Invalid parameter format.",
    "ERROR_USER_NOT_EXISTS": "The user does not exist or the API key is invalid.",
    "ERROR_AI_NOT_EXISTS": "The API does not exist.",
    "FILE_SIZE_EXCEEDS_LIMIT": "The file size exceeds the limit.",
    "FILE_RESOLUTION_EXCEEDS_LIMITS": "The file resolution exceeds the limit.",
    "ERROR_REQUEST_BODY_TOO_LARGE": "The request body is too large.",
    "UNSUPPORTED_FILE_TYPES": "Unsupported file type.",
    "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE": "Grayscale images are not supported.",
    "FILE_DECODING_FAILURE": "The file could not be decoded.",
    "ERROR_LOW_RESOLUTION": "The image resolution is too low.",
    "ERROR_NO_FACE_IN_FILE": "No face was found in the image.",
    "EXCEEDING_LIMITS": "Request or concurrency limit exceeded.",
}


class ApiError(Exception):
    """A documented API error: its code decides the HTTP status and the body."""

    def __init__(self, code: str, message: str = "") -> None:
        if code not in STATUS_OF_CODE:
            raise ValueError(f"not a documented error code: {code}")
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        """The HTTP status the API answers this code with."""
        return STATUS_OF_CODE[self.code]


def code_message(code: str) -> str:
    """The short, fixed description that goes with a code (`error_detail.code_message`)."""
    return _CODE_MESSAGES.get(code) or code.removeprefix("ERROR_").replace("_", " ").capitalize()


def _ids() -> dict[str, str]:
    return {"request_id": str(uuid.uuid4()), "log_id": uuid.uuid4().hex[:20].upper()}


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def success_body(data: dict[str, Any]) -> bytes:
    """The JSON body of a 200 answer; `data` is normally `{"image": "<base64>"}`."""
    return _encode(
        {
            **_ids(),
            "error_code": 0,
            "error_code_str": "",
            "error_msg": "",
            "error_detail": {"status_code": 200, "code": "", "code_message": "", "message": ""},
            "data": data,
        }
    )


def error_body(error: ApiError, style: BodyStyle) -> bytes:
    """The JSON body of a failed call, old style (numeric `error_code` and all) or new style."""
    short = code_message(error.code)
    detail = {"code": error.code, "code_message": short, "message": error.message or short}
    if style == "new":
        # Newer answers drop the deprecated numeric/string codes and the echoed status.
        return _encode({**_ids(), "error_msg": short, "error_detail": detail})
    return _encode(
        {
            **_ids(),
            "error_code": error.status,
            "error_code_str": error.code,
            "error_msg": short,
            "error_detail": {"status_code": error.status, **detail},
        }
    )
