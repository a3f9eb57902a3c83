"""HTTP requests as API Gateway HTTP API (payload format 2.0) events, and responses back.

The local Pair API server uses this to call the real handler the way API Gateway does.
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from local_stack.account import ACCOUNT_ID
from local_stack.http_api import RouteMatch
from local_stack.jwt_issuer import authorizer_context

API_ID = "localpairapi"


@dataclass(frozen=True)
class HttpRequest:
    """A request as the server received it."""

    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    """Repeated headers joined with commas, as API Gateway joins them."""
    body: bytes = b""
    host: str = "127.0.0.1"
    """The API's own domain name (never the request's ``Host`` header, which the caller
    chooses): the event's ``requestContext.domainName`` and its ``host`` header."""
    claims: dict[str, Any] | None = None
    """The claims of the token an authorizer verified (`requestContext.authorizer.jwt`)."""
    scopes: list[str] | None = None
    """The token's scopes, when the route names authorization scopes."""
    source_ip: str = "127.0.0.1"


@dataclass(frozen=True)
class HttpResponse:
    """What the handler answered."""

    status: int
    headers: dict[str, str]
    body: bytes


def to_event(request: HttpRequest, route: RouteMatch | None = None) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway would send for ``request`` on ``route``
    (``$default`` when None)."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    headers["host"] = request.host
    cookies = headers.pop("cookie", None)
    text = _text(request.body, headers)
    route_key = route.route.key if route is not None else "$default"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": text is None and bool(request.body),
    }
    if cookies:
        event["cookies"] = [cookie.strip() for cookie in cookies.split(";") if cookie.strip()]
    if request.query:
        event["queryStringParameters"] = _query_parameters(request.query)
    if route is not None and route.parameters:
        event["pathParameters"] = route.parameters
    if request.body:
        event["body"] = text if text is not None else base64.b64encode(request.body).decode()
    if request.claims is not None:
        event["requestContext"]["authorizer"] = authorizer_context(request.claims, request.scopes)
    return event


def from_result(result: dict[str, Any]) -> HttpResponse:
    """The HTTP response API Gateway makes of a handler's result."""
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    headers = {str(name): str(value) for name, value in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(name)] = ", ".join(str(v) for v in values)
    return HttpResponse(status=int(result.get("statusCode", 200)), headers=headers, body=data)


def _query_parameters(query: str) -> dict[str, str]:
    """Repeated names joined with commas, as API Gateway joins them."""
    joined: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        joined.setdefault(name, []).append(value)
    return {name: ",".join(values) for name, values in joined.items()}


def _text(body: bytes, headers: dict[str, str]) -> str | None:
    """The body as text when API Gateway would pass it as text; None means base64."""
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type and not (media_type.startswith("text/") or media_type.endswith(("json", "xml"))):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None
