"""The face-fusion API's wire contract: error codes, their HTTP statuses, and response bodies.

Everything here follows the API's published documentation of Merge Portraits and its
response codes. Its own checks answer only published codes; a test may inject any code with
any status (an unknown one too), to exercise a client's fallback on the status.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Literal

BodyStyle = Literal["new", "old"]

API_PATH = "/api/portrait/effects/face-fusion"
API_KEY_HEADER = "ailabapi-api-key"


def _published_table() -> dict[str, int]:
    # The API's own table, as published (all endpoints share it): `error-codes.tsv` here.
    lines = (Path(__file__).with_name("error-codes.tsv").read_text().splitlines())[1:]
    return {code: int(status) for status, code in (line.split("\t") for line in lines if line)}


STATUS_OF_CODE: dict[str, int] = _published_table()
"""Every published `error_detail.code`, mapped to its HTTP status."""

# An old-style body's deprecated `error_code_str` could be coarser than `error_detail.code`:
# the published example pairs `FILE_CONTENT_NON_COMPLIANCE` with `ERROR_NO_FACE_IN_FILE`.
_COARSE_CODE_OF_STATUS = {422: "FILE_CONTENT_NON_COMPLIANCE"}

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


class Refusal(Exception):
    """An API error: a published code answers with its status unless `status` overrides it."""

    def __init__(self, code: str, message: str = "", status: int | None = None) -> None:
        if status is None and code not in STATUS_OF_CODE:
            raise ValueError(f"not a published error code (give its status): {code}")
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"an error status must be 4xx or 5xx, got {status}")
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS_OF_CODE[code]


def code_message(code: str) -> str:
    """The short, fixed description that goes with a code (`error_detail.code_message`)."""
    return _CODE_MESSAGES.get(code) or code.removeprefix("ERROR_").replace("_", " ").capitalize()


def _ids() -> dict[str, str]:
    return {"request_id": str(uuid.uuid4()), "log_id": uuid.uuid4().hex[:20].upper()}


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def success_body(data: dict[str, Any], style: BodyStyle) -> bytes:
    """The JSON body of a 200 answer; `data` is normally `{"image": "<base64>"}`.

    New style carries only the documented public fields: no `error_code`, `error_code_str`,
    `error_msg` or `error_detail.status_code`.
    """
    if style == "new":
        detail = {"code": "", "code_message": "", "message": ""}
        return _encode({**_ids(), "error_detail": detail, "data": data})
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


def error_body(error: Refusal, style: BodyStyle) -> bytes:
    """The JSON body of a failed call, old style (numeric `error_code` and all) or new style
    (`request_id`, `log_id` and `error_detail` only)."""
    short = code_message(error.code)
    detail = {"code": error.code, "code_message": short, "message": error.message or short}
    if style == "new":
        return _encode({**_ids(), "error_detail": detail})
    return _encode(
        {
            **_ids(),
            "error_code": error.status,
            "error_code_str": _COARSE_CODE_OF_STATUS.get(error.status, error.code),
            "error_msg": short,
            "error_detail": {"status_code": error.status, **detail},
        }
    )
