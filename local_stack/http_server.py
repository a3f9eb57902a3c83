"""A threaded HTTP server on 127.0.0.1 in a daemon thread: the local servers' common part."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from local_stack.http_api_event import HttpResponse

logger = logging.getLogger("local_stack.http")


class LocalHttpServer(contextlib.AbstractContextManager["LocalHttpServer"]):
    """Binds at construction (so the URL is known, or the port error raised, at once);
    serves from ``__enter__`` until ``__exit__``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, port: int, name: str) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=name, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "server", "date"}
_MAX_LINE = 8192


class RequestRefused(Exception):
    """The request cannot be read as sent: answer ``response`` and close the connection."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


class QuietRequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, an `HttpResponse` sent in one call, request lines logged at DEBUG."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a silent client (e.g. a body shorter than announced) is waited for

    def read_body(self, limit: int) -> bytes:
        """The body, framed by ``Content-Length`` or ``Transfer-Encoding: chunked``.

        Raises :class:`RequestRefused`: 400 for framing that is malformed, ambiguous (both
        headers, or lengths that disagree) or cut short; 413 for a body over ``limit`` bytes,
        before reading it when its length is announced.
        """
        lengths = self.headers.get_all("Content-Length") or []
        encodings = self.headers.get_all("Transfer-Encoding") or []
        if encodings:
            if lengths or [e.strip().lower() for e in encodings] != ["chunked"]:
                raise _refusal(400, "Bad Request")
            return self._read_chunked(limit)
        if not lengths:
            return b""
        if len(set(lengths)) > 1 or not all(v.isascii() and v.isdigit() for v in lengths):
            raise _refusal(400, "Bad Request")
        length = int(lengths[0])
        if length > limit:
            raise _refusal(413, "Request Entity Too Large")
        return self._read_exactly(length)

    def _read_chunked(self, limit: int) -> bytes:
        body = bytearray()
        while True:
            size_text = self._read_line().split(b";", 1)[0].strip()
            if not size_text or not all(chr(c) in "0123456789abcdefABCDEF" for c in size_text):
                raise _refusal(400, "Bad Request")
            size = int(size_text, 16)
            if size == 0:
                break
            if len(body) + size > limit:
                raise _refusal(413, "Request Entity Too Large")
            body += self._read_exactly(size)
            if self._read_line() != b"":
                raise _refusal(400, "Bad Request")
        while self._read_line():  # trailer fields, unused
            pass
        return bytes(body)

    def _read_line(self) -> bytes:
        line = self.rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE or not line.endswith(b"\n"):
            raise _refusal(400, "Bad Request")
        return line.rstrip(b"\r\n")

    def _read_exactly(self, size: int) -> bytes:
        data = self.rfile.read(size)
        if len(data) != size:  # the client closed before sending all it announced
            raise _refusal(400, "Bad Request")
        return data

    def refuse(self, refused: RequestRefused) -> None:
        """Answer a request that could not be read, and close: its body may still be coming."""
        self.close_connection = True
        self.reply(refused.response)

    def reply(self, response: HttpResponse) -> None:
        """Send ``response``; its own length and connection headers are replaced by ours."""
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)


def json_response(status: int, body: Any, **headers: str) -> HttpResponse:
    """A JSON answer, e.g. API Gateway's own ``{"message": "Not Found"}``."""
    return HttpResponse(
        status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()
    )


def _refusal(status: int, message: str) -> RequestRefused:
    return RequestRefused(json_response(status, {"message": message}))
