"""S3's checks of a presigned POST, which moto leaves out, in front of moto's S3.

moto stores whatever a browser-style POST upload sends: it checks neither the policy's
signature and expiry nor its conditions (``content-length-range``, ``starts-with``, exact
fields). :func:`refusal` applies them as S3 documents them, and :class:`PostPolicyGate`, a
small server on 127.0.0.1, refuses a POST that fails them with S3's error and forwards the
rest to moto unchanged. The Pair API of the local stack presigns its uploads for the gate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import requests
from requests_toolbelt.multipart.decoder import (
    ImproperBodyPartContentException,
    MultipartDecoder,
    NonMultipartContentTypeException,
)

from local_stack.http_api_event import HttpResponse
from local_stack.http_server import LocalHttpServer, QuietRequestHandler

logger = logging.getLogger("local_stack.post_policy")
# Form fields that no condition has to cover (S3's documentation of POST policies).
_UNCHECKED = {"policy", "x-amz-signature", "file"}


@dataclass(frozen=True)
class Refusal:
    """S3's answer to a POST its policy does not allow."""

    status: int
    code: str
    message: str

    def xml(self) -> bytes:
        """The error body S3 sends."""
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{self.code}</Code>'
            f"<Message>{self.message}</Message></Error>"
        ).encode()


@dataclass(frozen=True)
class PostForm:
    """A POST upload as S3 sees it: the form fields (names lower-cased) and the file's size."""

    bucket: str
    fields: Mapping[str, str]
    file_size: int


def refusal(form: PostForm, secret_key: str, now: datetime | None = None) -> Refusal | None:
    """Why S3 would refuse ``form`` (signed with ``secret_key``), or None if it would take it."""
    fields = form.fields
    try:
        policy = json.loads(base64.b64decode(fields["policy"]))
    except (KeyError, ValueError):
        return _denied("Bucket POST must contain a valid policy")
    if not hmac.compare_digest(fields.get("x-amz-signature", ""), _signature(fields, secret_key)):
        return Refusal(403, "SignatureDoesNotMatch", "The request signature does not match")
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if (now or datetime.now(UTC)) >= expires:
        return _denied("Invalid according to Policy: Policy expired.")
    values = {**fields, "bucket": form.bucket}
    covered: set[str] = set()
    for condition in policy["conditions"]:
        refused = _check(condition, values, form.file_size, covered)
        if refused is not None:
            return refused
    extra = sorted(set(fields) - covered - _UNCHECKED - {"bucket"})
    extra = [name for name in extra if not name.startswith("x-ignore-")]
    if extra:
        return _denied(f"Invalid according to Policy: Extra input fields: {extra[0]}")
    return None


def _check(
    condition: Any, values: Mapping[str, str], size: int, covered: set[str]
) -> Refusal | None:
    if isinstance(condition, dict):
        ((name, expected),) = condition.items()
        operator, field, argument = "eq", name.lower(), str(expected)
    elif condition[0] == "content-length-range":
        low, high = int(condition[1]), int(condition[2])
        if size > high:
            return Refusal(
                400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"
            )
        if size < low:
            return Refusal(
                400,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed size",
            )
        return None
    else:
        operator, field, argument = (
            condition[0].lower(),
            condition[1].lstrip("$").lower(),
            condition[2],
        )
    covered.add(field)
    actual = values.get(field)
    matches = actual is not None and (
        actual == argument if operator == "eq" else actual.startswith(argument)
    )
    if not matches:
        return _denied(f"Invalid according to Policy: Policy Condition failed: {condition}")
    return None


def _signature(fields: Mapping[str, str], secret_key: str) -> str:
    """SigV4 for POST: the policy's base64 text signed with the credential's scope."""
    _, date, region, service, _ = fields.get("x-amz-credential", "////").split("/", 4)
    key = f"AWS4{secret_key}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, fields.get("policy", "").encode(), hashlib.sha256).hexdigest()


def _denied(message: str) -> Refusal:
    return Refusal(403, "AccessDenied", message)


def parse_form(bucket: str, body: bytes, content_type: str) -> PostForm:
    """The fields and file size of a ``multipart/form-data`` POST body."""
    fields: dict[str, str] = {}
    size = 0
    for part in MultipartDecoder(body, content_type).parts:
        disposition = part.headers.get(b"Content-Disposition", b"").decode()
        name = disposition.split('name="', 1)[1].split('"', 1)[0].lower()
        if name == "file":
            size = len(part.content)
        else:
            fields[name] = part.text
    return PostForm(bucket=bucket, fields=fields, file_size=size)


class PostPolicyGate(LocalHttpServer):
    """Checks POST uploads like S3 and forwards the allowed ones to moto (its ``url``)."""

    def __init__(self, moto_endpoint: str, *, secret_key: str, port: int = 0) -> None:
        self._moto = moto_endpoint.rstrip("/")
        self._secret_key = secret_key
        super().__init__(self._handler(), port=port, name="post-policy-gate")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gate = self

        class Handler(QuietRequestHandler):
            def do_OPTIONS(self) -> None:  # a browser's CORS preflight; moto allows every origin
                self._reply(gate.forward("OPTIONS", self.path, dict(self.headers.items()), b""))

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                bucket = self.path.split("?")[0].strip("/").split("/")[0]
                try:
                    form = parse_form(bucket, body, self.headers.get("Content-Type", ""))
                except (
                    ValueError,
                    IndexError,
                    ImproperBodyPartContentException,
                    NonMultipartContentTypeException,
                ) as exc:
                    refused: Refusal | None = Refusal(400, "MalformedPOSTRequest", str(exc))
                else:
                    refused = refusal(form, gate._secret_key)
                if refused is not None:
                    logger.info("refused a POST upload to %s: %s", bucket, refused.code)
                    self._reply(
                        HttpResponse(
                            refused.status, {"Content-Type": "application/xml"}, refused.xml()
                        )
                    )
                    return
                self._reply(gate.forward("POST", self.path, dict(self.headers.items()), body))

            def _reply(self, response: HttpResponse) -> None:
                # a refusal must reach the page too: moto answers every origin, so S3's CORS
                # rule for the playground's origin is mirrored here
                headers = dict(response.headers)
                if "Origin" in self.headers and not any(
                    name.lower() == "access-control-allow-origin" for name in headers
                ):
                    headers["Access-Control-Allow-Origin"] = self.headers["Origin"]
                self.reply(HttpResponse(response.status, headers, response.body))

        return Handler

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> HttpResponse:
        """Send a request on to moto unchanged; its answer."""
        headers = {k: v for k, v in headers.items() if k.lower() not in {"host", "content-length"}}
        answer = requests.request(method, self._moto + path, headers=headers, data=body, timeout=30)
        return HttpResponse(answer.status_code, dict(answer.headers), answer.content)
