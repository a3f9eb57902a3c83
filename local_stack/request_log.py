"""A log of the requests a local AWS endpoint served: service, operation and when.

A WSGI middleware around moto's app. Each request is named the way AWS names it: from the
`X-Amz-Target` header for the JSON protocols (DynamoDB, SQS, EventBridge, Secrets Manager)
and from the method, path and query for S3's REST protocol; the service comes from the
SigV4 credential scope. Times are `time.monotonic()`, so they compare with times taken in
any other process on the machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class LoggedRequest:
    """One request: what it was and when the server started and finished answering it."""

    service: str
    operation: str
    start: float
    end: float


@dataclass(frozen=True)
class Operation:
    """A request's service and operation, as AWS names them (e.g. `s3`, `GetObject`)."""

    service: str
    name: str


def operation_of(environ: dict[str, Any]) -> Operation:
    """The service and operation of a WSGI request to an AWS endpoint."""
    service = _signing_service(environ.get("HTTP_AUTHORIZATION", ""))
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:  # e.g. "DynamoDB_20120810.PutItem", "AmazonSQS.ReceiveMessage"
        return Operation(service, target.rsplit(".", 1)[-1])
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if service == "s3":
        return Operation(service, _s3_operation(method, path, query, environ))
    return Operation(service, f"{method} {path}")


def _signing_service(authorization: str) -> str:
    # "AWS4-HMAC-SHA256 Credential=KEY/20260101/us-east-1/s3/aws4_request, ..."
    for part in authorization.replace(",", " ").split():
        if part.startswith("Credential="):
            scope = part.removeprefix("Credential=").split("/")
            if len(scope) >= 4:
                return scope[3]
    return "unknown"


def _s3_operation(
    method: str, path: str, query: dict[str, list[str]], environ: dict[str, Any]
) -> str:
    """S3's operation from a path-style request (the local endpoint is an IP address)."""
    on_object = "/" in path.strip("/")
    if method == "GET" and not on_object:
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    if not on_object:
        return f"{method} bucket"
    if method == "PUT" and "HTTP_X_AMZ_COPY_SOURCE" in environ:
        return "CopyObject"
    names = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}
    return names.get(method, f"{method} object")


class RequestLog:
    """Wraps a WSGI app; while `recording`, logs every request it serves. Thread-safe."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []
        self.recording = False

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Serve the request; when recording, note it once its whole answer is made."""
        if not self.recording:
            return self._app(environ, start_response)
        started = time.monotonic()
        result = self._app(environ, start_response)
        try:
            # Read the answer here so that `end` is when it was ready, not when it was sent.
            chunks = list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        operation = operation_of(environ)
        entry = LoggedRequest(operation.service, operation.name, started, time.monotonic())
        with self._lock:
            self._entries.append(entry)
        return chunks

    def entries(self) -> list[LoggedRequest]:
        """Every request logged so far, in the order they finished."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget the requests logged so far."""
        with self._lock:
            self._entries.clear()
