"""How the face-fusion API's answers are understood: one classification for every entry point.

Classify on `error_detail.code` first (HTTP 429 means both "out of credits" and "rate
limited", and the statuses of many codes changed once already), then on the HTTP status.
Old-style bodies (`error_code`, `error_code_str`) and new-style ones (only `error_detail`)
are both read; a gateway's HTML page is understood by its status.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from portrait_fusion.api.api_codes import Kind, rule_for
from portrait_fusion.core.errors import (
    ApiError,
    OperationalApiError,
    PermanentApiError,
    TransientApiError,
)

# Our own codes for answers that carry no usable code of the API's.
INVALID_RESPONSE = "INVALID_RESPONSE"  # 200 but no JSON, truncated JSON, no image, not an image
CONNECTION_ERROR = "CONNECTION_ERROR"
API_TIMEOUT = "API_TIMEOUT"


class ProtocolError(TransientApiError):
    """The API said 200 (a billed call) but gave nothing usable: worth one replacement call
    over the pair's whole life (`paid_calls`), then the pair fails."""

    code = INVALID_RESPONSE


@dataclass(frozen=True)
class ApiSuccess:
    """A successful answer: the result image still base64-encoded, and the call's ids."""

    image_base64: str
    request_id: str | None
    log_id: str | None


_CLASS_OF_KIND: dict[Kind, type[ApiError]] = {
    Kind.PERMANENT: PermanentApiError,
    Kind.TRANSIENT: TransientApiError,
    Kind.OPERATIONAL: OperationalApiError,
}


def error_class(code: str | None, http_status: int) -> type[ApiError]:
    """The error class for an API code (`api_codes`), falling back on the HTTP status for
    codes the published table does not know."""
    rule = rule_for(code)
    if rule is not None:
        return _CLASS_OF_KIND[rule.kind]
    if http_status in (401, 403):
        return OperationalApiError
    if http_status in (408, 429) or http_status >= 500:
        return TransientApiError
    if 400 <= http_status < 500:
        return PermanentApiError
    return ProtocolError


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _error_fields(body: dict[str, Any]) -> tuple[str | None, str | None]:
    detail = body.get("error_detail")
    detail = detail if isinstance(detail, dict) else {}
    code = _text(detail.get("code")) or _text(body.get("error_code_str"))
    message = (
        _text(detail.get("message"))
        or _text(detail.get("code_message"))
        or _text(body.get("error_msg"))
    )
    return code, message


def interpret(http_status: int, body: bytes | str, content_type: str | None = None) -> ApiSuccess:
    """Read one HTTP answer of the face-fusion API; return the success or raise an `ApiError`."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if not isinstance(parsed, dict):
        kind = (content_type or "unknown type").split(";")[0]
        what = f"a non-JSON body ({kind}, {len(body)} bytes)"
        if http_status == 200:
            raise ProtocolError(f"the API answered 200 with {what}", http_status=200)
        cls = error_class(None, http_status)
        raise cls(
            f"the API answered HTTP {http_status} with {what}",
            code=f"HTTP_{http_status}",
            http_status=http_status,
        )

    request_id, log_id = _text(parsed.get("request_id")), _text(parsed.get("log_id"))
    code, message = _error_fields(parsed)
    error_code = parsed.get("error_code")
    failed = http_status != 200 or code is not None or error_code not in (0, None, "0")
    if failed:
        cls = error_class(code, http_status)
        raise cls(
            message or f"the API answered HTTP {http_status}",
            code=code or f"HTTP_{http_status}",
            http_status=http_status,
            request_id=request_id,
            log_id=log_id,
        )

    data = parsed.get("data")
    image = data.get("image") if isinstance(data, dict) else None
    if not isinstance(image, str) or not image:
        raise ProtocolError(
            "the API answered 200 without data.image",
            http_status=200,
            request_id=request_id,
            log_id=log_id,
        )
    return ApiSuccess(image, request_id, log_id)
