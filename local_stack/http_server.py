"""A threaded HTTP server on 127.0.0.1 in a daemon thread: the local servers' common part."""

from __future__ import annotations

import contextlib
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


class QuietRequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, an `HttpResponse` sent in one call, request lines logged at DEBUG."""

    protocol_version = "HTTP/1.1"

    def reply(self, response: HttpResponse) -> None:
        """Send ``response``; its own length and connection headers are replaced by ours."""
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)
