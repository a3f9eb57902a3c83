"""The local Pair API server as a caller meets it over a socket: API Gateway's routing,
throttling, JWT authorizer and HTTP framing in front of the function.

Malformed requests go over raw sockets (a client library would refuse to send them); the
function behind the server is a recorder, so each test sees exactly what reached it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import jwt
import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from cryptography.hazmat.primitives import serialization

from local_stack.aws import MotoServer
from local_stack.http_api import Throttling, read_http_api
from local_stack.jwt_issuer import LOCAL_AUDIENCE, LocalIssuer
from local_stack.pair_api import local_pair_api
from local_stack.pair_api_server import MAX_REQUEST_BYTES, PairApiServer
from tests.harness import TEMPLATE, provision_tier
from tests.local_stack.handlers import Recorder


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def serve(recorder: Recorder, **overrides: str) -> PairApiServer:
    http_api = read_http_api(
        TEMPLATE,
        overrides=overrides,
        stack_name="gw",
        region="us-east-1",
        account_id="123456789012",
    )
    return PairApiServer(recorder, http_api=http_api)


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def server(recorder: Recorder) -> Iterator[PairApiServer]:
    # throttling out of the way here; test_the_templates_throttling_answers_429 has its own
    overrides = {"PairApiThrottlingRateLimit": "10000", "PairApiThrottlingBurstLimit": "10000"}
    with serve(recorder, **overrides) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_recorder(recorder: Recorder) -> None:
    recorder.events.clear()


def request(
    server: PairApiServer, method: str, path: str, body: Any = None, **headers: str
) -> Answer:
    connection = http.client.HTTPConnection(server.domain_name, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def raw(server: PairApiServer, data: bytes, *, half_close: bool = False) -> Answer:
    """Send bytes as they are; the answer must come within 5 s (the server waits 30 s for a
    body it expects, so a server that tried to read what was never sent fails here)."""
    host, port = server.domain_name.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(data)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(connection)
        response.begin()
        return Answer(response.status, dict(response.getheaders()), response.read())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(issuer: LocalIssuer) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(
        issuer.mint("mallory"), options={"verify_signature": False}
    )
    return decoded


def alg_none(issuer: LocalIssuer) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": issuer.kid}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims_of(issuer)).encode())}."


def hs256_with_public_key(issuer: LocalIssuer) -> str:
    public_pem = issuer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": issuer.kid}
    signing_input = (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims_of(issuer)).encode())}"
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


BAD_AUTHORIZATION: dict[str, Callable[[LocalIssuer], dict[str, str]]] = {
    "missing": lambda issuer: {},
    "empty bearer": lambda issuer: {"Authorization": "Bearer "},
    "malformed": lambda issuer: bearer("not.a.jwt"),
    "another scheme": lambda issuer: {"Authorization": f"Basic {b64(b'alice:secret')}"},
    "expired": lambda issuer: bearer(issuer.mint("alice", expires_in=-1)),
    "not yet valid": lambda issuer: bearer(issuer.mint("alice", not_before=60)),
    "issued in the future": lambda issuer: bearer(
        issuer.mint("alice", claims={"iat": int(time.time()) + 60})
    ),
    "no expiry": lambda issuer: bearer(issuer.mint("alice", claims={"exp": None})),
    "forged with another key": lambda issuer: bearer(issuer.forger().mint("alice")),
    "unknown key id": lambda issuer: bearer(issuer.with_kid("not-published").mint("alice")),
    "wrong issuer": lambda issuer: bearer(
        replace(issuer, issuer="http://evil.example").mint("alice")
    ),
    "wrong audience": lambda issuer: bearer(issuer.mint("alice", claims={"aud": "another-app"})),
    "alg none": lambda issuer: bearer(alg_none(issuer)),
    "HS256 signed with the public key": lambda issuer: bearer(hs256_with_public_key(issuer)),
}


@pytest.mark.parametrize("kind", BAD_AUTHORIZATION)
def test_every_bad_token_is_a_401_before_the_function(
    server: PairApiServer, recorder: Recorder, kind: str
) -> None:
    answer = request(server, "GET", "/templates", **BAD_AUTHORIZATION[kind](server.issuer))
    assert (answer.status, answer.json()) == (401, {"message": "Unauthorized"})
    assert answer.headers["www-authenticate"].startswith('Bearer scope="" error="invalid_token"')
    assert recorder.events == []


def test_a_valid_tokens_claims_reach_the_event_as_api_gateway_passes_them(
    server: PairApiServer, recorder: Recorder
) -> None:
    token = server.issuer.mint("alice", claims={"cognito:groups": ["editors", "viewers"]})
    answer = request(
        server, "GET", "/pairs/abc?view=full&tag=a&tag=b", Cookie="a=1; b=2", **bearer(token)
    )
    assert (answer.status, answer.json()) == (200, {"routeKey": "GET /pairs/{pair_id}"})
    (event,) = recorder.events
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /pairs/{pair_id}"
    assert event["pathParameters"] == {"pair_id": "abc"}
    assert event["queryStringParameters"] == {"view": "full", "tag": "a,b"}
    assert event["rawQueryString"] == "view=full&tag=a&tag=b"
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer["jwt"]["scopes"] is None
    claims = authorizer["jwt"]["claims"]
    assert claims["sub"] == "alice"
    assert claims["iss"] == server.url == server.issuer.issuer
    assert claims["aud"] == LOCAL_AUDIENCE
    assert claims["cognito:groups"] == "[editors viewers]"
    assert int(claims["exp"]) - int(claims["iat"]) == 3600
    assert all(isinstance(value, str) for value in claims.values())
    # Powertools' model of the payload 2.0 event (written from real events) reads it as such
    parsed = APIGatewayProxyEventV2Model.model_validate(event)
    assert parsed.requestContext.authorizer is not None
    assert parsed.requestContext.authorizer.jwt is not None
    assert parsed.requestContext.authorizer.jwt.claims["sub"] == "alice"
    assert parsed.pathParameters == {"pair_id": "abc"}


def test_a_token_without_bearer_and_with_client_id_for_audience_is_accepted(
    server: PairApiServer, recorder: Recorder
) -> None:
    token = server.issuer.mint("app", claims={"aud": None, "client_id": LOCAL_AUDIENCE})
    assert request(server, "GET", "/templates", Authorization=token).status == 200
    assert (
        recorder.events[0]["requestContext"]["authorizer"]["jwt"]["claims"]["client_id"]
        == LOCAL_AUDIENCE
    )


def test_the_issuer_publishes_the_keys_a_relying_party_verifies_tokens_with(
    server: PairApiServer,
) -> None:
    discovery = request(server, "GET", "/.well-known/openid-configuration", Host="evil.example")
    assert discovery.json()["issuer"] == server.url
    jwks_uri = discovery.json()["jwks_uri"]
    assert jwks_uri == f"{server.url}/.well-known/jwks.json"
    keys = jwt.PyJWKSet.from_dict(request(server, "GET", jwks_uri.removeprefix(server.url)).json())
    token = server.issuer.mint("bob")
    key = keys[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(
        token, key, algorithms=["RS256"], audience=LOCAL_AUDIENCE, issuer=server.url
    )
    assert claims["sub"] == "bob"


def test_urls_and_the_events_domain_never_come_from_the_host_header(
    server: PairApiServer, recorder: Recorder
) -> None:
    token = server.issuer.mint("alice")
    answer = request(server, "POST", "/pairs", b"{}", Host="evil.example", **bearer(token))
    assert answer.status == 200
    (event,) = recorder.events
    assert event["requestContext"]["domainName"] == server.domain_name
    assert event["headers"]["host"] == server.domain_name
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-forwarded-port"] == server.domain_name.split(":")[1]
    redirect = request(server, "GET", "/playground", Host="evil.example")
    assert (redirect.status, redirect.headers["Location"]) == (301, "/playground/")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/templates", "GET"),
        ("PUT", "/pairs/abc", "DELETE, GET"),
        ("GET", "/pairs", "POST"),
        ("OPTIONS", "/pairs", "POST"),
        ("POST", "/.well-known/jwks.json", "GET"),
        ("DELETE", "/playground/index.html", "GET"),
    ],
)
def test_a_known_path_with_another_method_is_405_with_allow(
    server: PairApiServer, recorder: Recorder, method: str, path: str, allow: str
) -> None:
    answer = request(server, method, path, **bearer(server.issuer.mint("alice")))
    assert (answer.status, answer.json()) == (405, {"message": "Method Not Allowed"})
    assert answer.headers["Allow"] == allow
    assert recorder.events == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/unknown"), ("BREW", "/coffee"), ("GET", "/templates/"), ("GET", "/")],
)
def test_an_unknown_path_is_404_whatever_the_method(
    server: PairApiServer, recorder: Recorder, method: str, path: str
) -> None:
    answer = request(server, method, path, **bearer(server.issuer.mint("alice")))
    assert (answer.status, answer.json()) == (404, {"message": "Not Found"})
    assert recorder.events == []


def test_a_chunked_body_reaches_the_function_whole(
    server: PairApiServer, recorder: Recorder
) -> None:
    token = server.issuer.mint("alice")
    connection = http.client.HTTPConnection(server.domain_name, timeout=10)
    parts = [b'{"correlation_id": ', b'"order-7", ', b'"source_similarity": 0.5}']
    connection.request(
        "POST",
        "/pairs",
        body=iter(parts),
        headers={"Content-Type": "application/json", **bearer(token)},
        encode_chunked=True,
    )
    assert connection.getresponse().status == 200
    connection.close()
    (event,) = recorder.events
    assert json.loads(event["body"]) == {"correlation_id": "order-7", "source_similarity": 0.5}


def test_chunk_extensions_and_trailers_are_read_past(
    server: PairApiServer, recorder: Recorder
) -> None:
    token = server.issuer.mint("alice")
    answer = raw(
        server,
        b"POST /pairs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        + b"2;name=value\r\n{}\r\n0\r\nX-Trailer: 1\r\n\r\n",
    )
    assert answer.status == 200
    assert recorder.events[0]["body"] == "{}"


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: abc\r\n",
        b"Content-Length: -1\r\n",
        b"Content-Length: +2\r\n",
        b"Content-Length: 2\r\nContent-Length: 3\r\n",
        b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: gzip, chunked\r\n",
    ],
    ids=["not a number", "negative", "signed", "two lengths", "length and chunked", "gzip"],
)
def test_a_bad_or_conflicting_content_length_is_400_and_the_connection_closes(
    server: PairApiServer, recorder: Recorder, framing: bytes
) -> None:
    answer = raw(server, b"POST /pairs HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n{}")
    assert (answer.status, answer.json()) == (400, {"message": "Bad Request"})
    assert answer.headers["Connection"] == "close"
    assert recorder.events == []


def test_a_bad_chunk_size_is_400(server: PairApiServer, recorder: Recorder) -> None:
    answer = raw(
        server,
        b"POST /pairs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\n{}\r\n0\r\n\r\n",
    )
    assert answer.status == 400
    assert recorder.events == []


def test_a_body_shorter_than_its_content_length_is_400(
    server: PairApiServer, recorder: Recorder
) -> None:
    answer = raw(
        server, b"POST /pairs HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{}", half_close=True
    )
    assert answer.status == 400
    assert recorder.events == []


def test_a_body_over_the_payload_limit_is_413_before_it_is_sent(
    server: PairApiServer, recorder: Recorder
) -> None:
    # nothing of the announced body is sent: an answer within raw()'s 5 s proves it was not read
    head = f"POST /pairs HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_REQUEST_BYTES + 1}\r\n\r\n"
    answer = raw(server, head.encode())
    assert (answer.status, answer.json()) == (413, {"message": "Request Entity Too Large"})
    chunk = f"{MAX_REQUEST_BYTES + 1:x}\r\n".encode()
    chunked = raw(
        server, b"POST /pairs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk
    )
    assert chunked.status == 413
    assert recorder.events == []


def test_a_body_at_the_payload_limit_is_passed_on(
    server: PairApiServer, recorder: Recorder
) -> None:
    body = b"x" * MAX_REQUEST_BYTES
    token = server.issuer.mint("alice")
    answer = request(
        server, "POST", "/pairs", body, **{"Content-Type": "text/plain", **bearer(token)}
    )
    assert answer.status == 200
    assert len(recorder.events[0]["body"]) == MAX_REQUEST_BYTES


def test_the_templates_throttling_answers_429(recorder: Recorder) -> None:
    # PairApiThrottlingBurstLimit=3 and RateLimit=1: three requests at once pass, then 429
    with serve(recorder, PairApiThrottlingRateLimit="1", PairApiThrottlingBurstLimit="3") as server:
        token = server.issuer.mint("alice")
        answers = [request(server, "GET", "/templates", **bearer(token)) for _ in range(6)]
        assert [a.status for a in answers[:3]] == [200, 200, 200]
        throttled = [a for a in answers[3:] if a.status == 429]
        assert throttled, [a.status for a in answers]
        assert throttled[0].json() == {"message": "Too Many Requests"}
        assert len(recorder.events) == 6 - len(throttled)
        # a token comes back each second
        deadline = time.monotonic() + 5
        while request(server, "GET", "/templates", **bearer(token)).status == 429:
            assert time.monotonic() < deadline, "the bucket never refilled"
            time.sleep(0.1)


def test_the_real_function_builds_its_urls_from_the_servers_own_address(moto: MotoServer) -> None:
    stack = provision_tier(
        moto.endpoint_url, f"gw-{uuid.uuid4().hex[:8]}", PairApiThrottlingBurstLimit="7"
    )
    # the provisioned stack carries the template's gateway, with this run's parameters
    assert stack.pair_api_gateway.throttling == Throttling(rate_limit=10, burst_limit=7)
    with local_pair_api(stack) as server:
        token = server.issuer.mint("alice")
        answer = request(
            server,
            "POST",
            "/pairs",
            b"{}",
            Host="evil.example",
            **{"Content-Type": "application/json", **bearer(token)},
        )
        assert answer.status == 201, answer.body
        created = answer.json()
        assert created["status_url"] == f"{server.url}/pairs/{created['pair_id']}"
        assert "evil.example" not in answer.body.decode()
