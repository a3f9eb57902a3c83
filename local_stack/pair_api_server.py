"""The Pair API on 127.0.0.1: HTTP requests become API Gateway events for the real handler.

It also serves the playground (``playground/``) at ``/playground/``. Authentication stands in
for the deployed API's JWT mode: every API request needs ``Authorization: Bearer <token>``
with the token printed at start-up; anything else gets API Gateway's own 401 answer.
"""

from __future__ import annotations

import hmac
import json
import logging
import mimetypes
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from local_stack.http_api_event import HttpRequest, HttpResponse, from_result, to_event
from local_stack.http_server import LocalHttpServer, QuietRequestHandler

logger = logging.getLogger("local_stack.pair_api")
PLAYGROUND = Path(__file__).resolve().parents[1] / "playground"
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class LocalContext:
    """The parts of a Lambda context that the Pair API's handler reads."""

    function_name: str = "PairApiFunction"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:PairApiFunction"
    memory_limit_in_mb: int = 256
    aws_request_id: str = ""
    log_group_name: str = "/aws/lambda/PairApiFunction"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        """Time left of a 29 s API Gateway integration timeout (not counted down locally)."""
        return 29_000


class PairApiServer(LocalHttpServer):
    """A threaded HTTP server in front of ``handler``; serves inside a ``with`` block."""

    def __init__(self, handler: Handler, *, token: str, port: int = 0) -> None:
        self.token = token
        self._handler = handler
        self._lock = threading.Lock()  # one invocation at a time, as one Lambda instance
        super().__init__(self._request_handler(), port=port, name="pair-api")

    def invoke(self, request: HttpRequest) -> HttpResponse:
        """Authenticate ``request`` as API Gateway would, then run the handler on its event."""
        if not self._authorized(request.headers):
            return _json(401, {"message": "Unauthorized"})
        with self._lock:
            try:
                result = self._handler(
                    to_event(request), LocalContext(aws_request_id=str(uuid.uuid4()))
                )
            except Exception:  # API Gateway's answer to a function that raised
                logger.exception("the Pair API function raised")
                return _json(500, {"message": "Internal Server Error"})
        return from_result(result)

    def _authorized(self, headers: dict[str, str]) -> bool:
        given = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode())

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0].startswith("/playground"):
                    self.reply(_static(self.path.split("?")[0]))
                else:
                    self._api()

            def do_POST(self) -> None:
                self._api()

            def do_DELETE(self) -> None:
                self._api()

            def _api(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_REQUEST_BYTES:
                    self.reply(_json(413, {"message": "Request Entity Too Large"}))
                    return
                path, _, query = self.path.partition("?")
                request = HttpRequest(
                    method=self.command,
                    path=path,
                    query=query,
                    headers={**dict(self.headers.items()), "x-forwarded-proto": "http"},
                    body=self.rfile.read(length) if length else b"",
                    host=self.headers.get("Host", "127.0.0.1"),
                )
                self.reply(server.invoke(request))

        return Handler


def _static(path: str) -> HttpResponse:
    """A file of the playground; ``/playground`` and ``/playground/`` are its index."""
    relative = path.removeprefix("/playground").lstrip("/") or "index.html"
    if path == "/playground":
        return HttpResponse(301, {"Location": "/playground/"}, b"")
    file = (PLAYGROUND / relative).resolve()
    if not file.is_relative_to(PLAYGROUND) or not file.is_file():
        return _json(404, {"message": "Not Found"})
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return HttpResponse(200, {"Content-Type": content_type}, file.read_bytes())


def _json(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, {"Content-Type": "application/json"}, json.dumps(body).encode())
