"""The Pair API on 127.0.0.1: what API Gateway does in front of the real handler.

Requests go through the template's routes (404 for an unknown path, 405 with ``Allow`` for
a known path with another method), its stage throttling (429) and API Gateway's JWT
authorizer (401) before they become payload 2.0 events. The server is also the JWT
issuer the authorizer trusts: its URL is the ``iss``, its key set is served at
``/.well-known/jwks.json`` (found through ``/.well-known/openid-configuration``). Every URL it
makes starts with its own address, never the ``Host`` a caller sends. It also serves the
playground (``playground/``) at ``/playground/``.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from local_stack.http_api import HttpApi
from local_stack.http_api_event import HttpRequest, HttpResponse, from_result, to_event
from local_stack.http_server import (
    LocalHttpServer,
    QuietRequestHandler,
    RequestRefused,
    json_response,
)
from local_stack.jwt_authorizer import JwtAuthorizer, JwtConfiguration, Unauthorized
from local_stack.jwt_issuer import DISCOVERY_PATH, JWKS_PATH, LOCAL_AUDIENCE, LocalIssuer
from local_stack.token_bucket import TokenBucket

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
    """A threaded HTTP server in front of ``handler``; serves inside a ``with`` block.

    ``http_api`` holds the routes and throttling the template declares; tokens must come
    from :attr:`issuer` (``iss``: this server's URL) for ``audience``.
    """

    def __init__(
        self, handler: Handler, *, http_api: HttpApi, audience: str = LOCAL_AUDIENCE, port: int = 0
    ) -> None:
        super().__init__(self._request_handler(), port=port, name="pair-api")
        self.issuer = LocalIssuer.generate(self.url, audience)
        self._authorizer = JwtAuthorizer(JwtConfiguration(self.url, (audience,)), self.issuer.jwks)
        self._http_api = http_api
        throttling = http_api.throttling
        self._bucket = (
            None
            if throttling is None
            else TokenBucket(throttling.rate_limit, throttling.burst_limit)
        )
        self._handler = handler
        self._lock = threading.Lock()  # one invocation at a time, as one Lambda instance

    @property
    def domain_name(self) -> str:
        """``127.0.0.1:<port>``: the API's domain name in events and URLs."""
        return self.url.removeprefix("http://")

    def invoke(self, request: HttpRequest) -> HttpResponse:
        """Route, throttle and authorize ``request`` as API Gateway would, then run the
        handler on its event."""
        match = self._http_api.find(request.method, request.path)
        if match is None:
            allowed = self._http_api.methods(request.path)
            if allowed:
                return json_response(
                    405, {"message": "Method Not Allowed"}, Allow=", ".join(allowed)
                )
            return json_response(404, {"message": "Not Found"})
        if self._bucket and not self._bucket.take():
            return json_response(429, {"message": "Too Many Requests"})
        if match.route.authorization == "JWT":
            try:
                authorization = self._authorizer.authorize(
                    request.headers.get("authorization"), match.route.scopes
                )
            except Unauthorized as refused:
                return json_response(
                    refused.status,
                    {"message": refused.message},
                    **{"www-authenticate": refused.www_authenticate},
                )
            request = replace(request, claims=authorization.claims, scopes=authorization.scopes)
        with self._lock:
            try:
                result = self._handler(
                    to_event(request, match), LocalContext(aws_request_id=str(uuid.uuid4()))
                )
            except Exception:  # API Gateway's answer to a function that raised
                logger.exception("the Pair API function raised")
                return json_response(500, {"message": "Internal Server Error"})
        return from_result(result)

    def serve_own(self, method: str, path: str) -> HttpResponse | None:
        """The issuer's documents and the playground; None for every other path."""
        documents = {JWKS_PATH: self.issuer.jwks, DISCOVERY_PATH: self.issuer.discovery}
        if path not in documents and not path.startswith("/playground"):
            return None
        if method != "GET":
            return json_response(405, {"message": "Method Not Allowed"}, Allow="GET")
        if path in documents:
            return json_response(200, documents[path]())
        return _static(path)

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietRequestHandler):
            def __getattr__(self, name: str) -> Callable[[], None]:
                # every method, known or not, is API Gateway's to answer (never a 501)
                if name.startswith("do_"):
                    return self._any_method
                raise AttributeError(name)

            def _any_method(self) -> None:
                try:
                    body = self.read_body(MAX_REQUEST_BYTES)
                except RequestRefused as refused:
                    self.refuse(refused)
                    return
                path, _, query = self.path.partition("?")
                own = server.serve_own(self.command, path)
                if own is not None:
                    self.reply(own)
                    return
                headers = {
                    name.lower(): ",".join(self.headers.get_all(name) or [])
                    for name in dict.fromkeys(k.lower() for k in self.headers)
                }
                client_ip = self.client_address[0]
                forwarded = headers.get("x-forwarded-for")
                headers |= {
                    "x-forwarded-for": f"{forwarded}, {client_ip}" if forwarded else client_ip,
                    "x-forwarded-port": server.domain_name.rpartition(":")[2],
                    "x-forwarded-proto": "http",
                }
                request = HttpRequest(
                    method=self.command,
                    path=path,
                    query=query,
                    headers=headers,
                    body=body,
                    host=server.domain_name,
                    source_ip=client_ip,
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
        return json_response(404, {"message": "Not Found"})
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return HttpResponse(200, {"Content-Type": content_type}, file.read_bytes())
