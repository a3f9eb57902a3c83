"""The emulator as a real HTTP(S) server on 127.0.0.1, and its Python handle `FusionEmulator`.

Admin endpoints (JSON, no key) let another process steer a running emulator:
`GET|PUT /_emulator/faults`, `GET /_emulator/stats`, `POST /_emulator/reset`,
`PUT /_emulator/api-keys` (`{"api_keys": [...]}`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import struct
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from local_stack.emulator import tls as tls_files
from local_stack.emulator.contract import API_KEY_HEADER, API_PATH, Refusal
from local_stack.emulator.faults import Faults
from local_stack.emulator.ledger import LoggedCall
from local_stack.emulator.service import FusionService, Reply
from local_stack.emulator.validation import Fingerprint
from local_stack.running import Running

logger = logging.getLogger(__name__)

ADMIN_PREFIX = "/_emulator"
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # room for two over-limit files, so 413 names the file
_IDLE_TIMEOUT_S = 60  # a keep-alive connection left idle this long is closed
_HANDSHAKE_TIMEOUT_S = 10
_DRIBBLE_PIECES = 10
_READ_CHUNK = 64 * 1024


class _Server(ThreadingHTTPServer):
    # Handler threads are joined by server_close(), so stop() leaves nothing running.
    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        port: int,
        service: FusionService,
        stopping: threading.Event,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.service = service
        self.ssl_context: ssl.SSLContext | None = None  # set before serving, for HTTPS
        self.stopping = stopping
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection; the TLS handshake runs here, in the connection's thread."""
        connection: socket.socket = request
        if self.ssl_context is not None:
            request.settimeout(_HANDSHAKE_TIMEOUT_S)
            try:
                connection = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return  # a client that gave up or does not trust us: nothing to serve
        with self._connections_lock:
            self._connections.add(connection)
        try:
            # stop() sets `stopping` before it cuts connections: one registered too late for
            # the cut sees the flag instead, so no thread is left waiting on an idle client.
            if not self.stopping.is_set():
                super().finish_request(connection, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            connection.close()

    def close_connections(self) -> None:
        """Cut every open connection, so idle keep-alive threads end now."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up or time out mid-call are normal here; anything else is logged."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError | ssl.SSLError):
            return
        logger.exception("emulator: unexpected error serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API and the client's pool use it
    server_version = "FaceFusionEmulator/1.0"
    timeout = _IDLE_TIMEOUT_S
    # Headers and body go out in separate writes; with Nagle on, each answer would wait
    # for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._route("GET")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_POST(self) -> None:
        self._route("POST")

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)

    def log_error(self, format: str, *args: Any) -> None:
        # The standard handler reports the idle timeout of a keep-alive connection (the
        # normal end of a pooled client's connection) as "Request timed out"; it is no error.
        if format.startswith("Request timed out"):
            logger.debug("%s: idle keep-alive connection closed", self.address_string())
            return
        super().log_error(format, *args)

    def _route(self, method: str) -> None:
        service = self.server.service
        try:
            body = self._read_body()
        except ValueError:  # a bad Content-Length or chunk size: the stream cannot be trusted
            self.close_connection = True
            self._send(service.reject(Refusal("ERROR_PARAMETERS", "malformed request framing")))
            return
        path = urlsplit(self.path).path
        if body is None:
            reply = service.reject(Refusal("ERROR_REQUEST_BODY_TOO_LARGE"))
        elif method == "POST" and path == API_PATH:
            reply = service.call(
                self.headers.get(API_KEY_HEADER), self.headers["Content-Type"], body
            )
        elif (method, path) in _ADMIN_ROUTES:
            reply = _admin(_ADMIN_ROUTES[method, path], service, body)
        else:
            reply = service.reject(Refusal("ERROR_AI_NOT_EXISTS", f"no API at {method} {path}"))
        self._send(reply)

    def _read_body(self) -> bytes | None:
        """The request body; None (after draining it) when it is larger than allowed."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = self._read_chunks()
        else:
            chunks = self._read_length(int(self.headers.get("Content-Length") or 0))
        body = bytearray()
        size = 0
        for chunk in chunks:  # read it all even when too big: the client then gets its 413
            size += len(chunk)
            if size <= MAX_REQUEST_BYTES:
                body += chunk
        return bytes(body) if size <= MAX_REQUEST_BYTES else None

    def _read_length(self, length: int) -> Iterable[bytes]:
        while length > 0:
            chunk = self.rfile.read(min(length, _READ_CHUNK))
            if not chunk:
                raise ConnectionError("client closed the connection mid-body")
            length -= len(chunk)
            yield chunk

    def _read_chunks(self) -> Iterable[bytes]:
        while size := int(self.rfile.readline().split(b";")[0], 16):
            yield from self._read_length(size)
            self.rfile.readline()  # the CRLF that ends every chunk
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailer fields: nothing here needs them

    def _send(self, reply: Reply) -> None:
        if reply.reset:
            # Linger 0 turns the close into a TCP RST: the client sees a reset, not an answer.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.retry_after is not None:
            self.send_header("Retry-After", reply.retry_after)
        self.end_headers()
        if not reply.dribble_s:
            self.wfile.write(reply.body)
            return
        piece = -(-len(reply.body) // _DRIBBLE_PIECES)
        for start in range(0, len(reply.body), piece):
            if start:
                self.server.stopping.wait(reply.dribble_s / _DRIBBLE_PIECES)
            self.wfile.write(reply.body[start : start + piece])


AdminAction = Callable[[FusionService, Any], Any]


def _get_faults(service: FusionService, _document: Any) -> dict[str, Any]:
    return service.injector.current().to_dict()


def _put_faults(service: FusionService, document: Any) -> dict[str, Any]:
    service.injector.configure(Faults.from_dict(document))
    return _get_faults(service, document)


def _get_stats(service: FusionService, _document: Any) -> dict[str, Any]:
    return service.stats()


def _reset(service: FusionService, _document: Any) -> dict[str, Any]:
    service.reset()
    return service.stats()


def _put_api_keys(service: FusionService, document: Any) -> dict[str, Any]:
    keys = document["api_keys"]
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise TypeError("api_keys must be a list of strings")
    service.set_api_keys(keys)
    return {"api_keys": len(keys)}


_ADMIN_ROUTES: dict[tuple[str, str], AdminAction] = {
    ("GET", f"{ADMIN_PREFIX}/faults"): _get_faults,
    ("PUT", f"{ADMIN_PREFIX}/faults"): _put_faults,
    ("GET", f"{ADMIN_PREFIX}/stats"): _get_stats,
    ("POST", f"{ADMIN_PREFIX}/reset"): _reset,
    ("PUT", f"{ADMIN_PREFIX}/api-keys"): _put_api_keys,
}


def _admin(action: AdminAction, service: FusionService, body: bytes) -> Reply:
    """Run an admin action on a JSON body; a bad document is a 400 with the reason."""
    try:
        document = json.loads(body) if body else {}
        result = action(service, document)
    except (ValueError, KeyError, TypeError) as exc:
        return Reply(400, json.dumps({"error": str(exc)}).encode())
    return Reply(200, json.dumps(result).encode())


class FusionEmulator(Running):
    """A running face-fusion API on 127.0.0.1; `with FusionEmulator(...) as emu:` or start/stop.

    `tls=True` serves HTTPS with a certificate made at start; point `REQUESTS_CA_BUNDLE`
    (or `verify=`) at `ca_bundle`. `port=0` picks a free port.
    """

    def __init__(
        self,
        api_keys: Iterable[str],
        *,
        tls: bool = True,
        port: int = 0,
        faults: Faults | None = None,
    ) -> None:
        self._tls = tls
        self._requested_port = port
        self._stopping = threading.Event()
        self._service = FusionService(api_keys, faults or Faults(), self._stopping.wait)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._ca_bundle: Path | None = None

    def start(self) -> Self:
        """Bind, make the certificate (with TLS) and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._stopping.clear()
        # Bind first: a busy port fails before any certificate file exists.
        self._server = _Server(self._requested_port, self._service, self._stopping)
        if self._tls:
            self._workdir = tempfile.TemporaryDirectory(prefix="fusion-emulator-")
            files = tls_files.issue(Path(self._workdir.name))
            self._ca_bundle = files.ca_bundle
            self._server.ssl_context = files.server_context
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"fusion-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections, wait for every handler thread, delete the cert."""
        if self._server is None:
            return
        self._stopping.set()  # held and dribbled answers stop waiting
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        if self._workdir is not None:
            self._workdir.cleanup()
        self._server = self._thread = self._workdir = self._ca_bundle = None

    def _running(self) -> _Server:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return self._server

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return int(self._running().server_address[1])

    @property
    def base_url(self) -> str:
        """`https://127.0.0.1:PORT` (or `http://` without TLS)."""
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The face-fusion endpoint, for `FUSION_API_URL`."""
        return self.base_url + API_PATH

    @property
    def admin_url(self) -> str:
        """The root of the admin endpoints."""
        return self.base_url + ADMIN_PREFIX

    @property
    def ca_bundle(self) -> str | None:
        """The PEM file that makes clients trust the emulator (None without TLS)."""
        self._running()
        return str(self._ca_bundle) if self._ca_bundle else None

    @property
    def faults(self) -> Faults:
        """The faults in force (the script shows only what is left of it)."""
        return self._service.injector.current()

    def set_faults(self, faults: Faults) -> None:
        """Replace the faults; the script restarts and the RNG is re-seeded."""
        self._service.injector.configure(faults)

    def set_api_keys(self, api_keys: Iterable[str]) -> None:
        """Accept only these API keys from now on (a key rotation)."""
        self._service.set_api_keys(api_keys)

    def stats(self) -> dict[str, Any]:
        """Calls, calls by outcome, merges, duplicate merges, calls in flight and their peak."""
        return self._service.stats()

    def merges_by_inputs(self) -> dict[Fingerprint, int]:
        """Billed merges since the last reset, per (target sha256, template sha256,
        similarity)."""
        return self._service.ledger.merges_by_inputs()

    def reset(self) -> None:
        """Clear the counters (and the call log); restore the API keys and faults given to the
        constructor."""
        self._service.reset()

    def keep_call_log(self) -> None:
        """Log every call's arrival, answer and status from now on; see `call_log`."""
        self._service.ledger.keep_call_log()

    def call_log(self) -> list[LoggedCall]:
        """The calls logged since the last reset (times are `time.monotonic()`)."""
        return self._service.ledger.call_log()
