"""API Gateway's JWT authorizer, rule by rule, on a fixed clock (no server, no network)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import replace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from local_stack.jwt_authorizer import JwtAuthorizer, JwtConfiguration, Unauthorized
from local_stack.jwt_issuer import LOCAL_AUDIENCE, LocalIssuer

ISSUER = "https://issuer.test"
NOW = 2_000_000_000


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer.generate(ISSUER)


@pytest.fixture
def authorizer(issuer: LocalIssuer) -> JwtAuthorizer:
    return JwtAuthorizer(
        JwtConfiguration(ISSUER, (LOCAL_AUDIENCE, "second-app")), issuer.jwks, clock=lambda: NOW
    )


def signed(issuer: LocalIssuer, **claims: Any) -> str:
    """A token with exactly these claims (defaults: valid at NOW)."""
    payload = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": LOCAL_AUDIENCE,
        "iat": NOW - 10,
        "exp": NOW + 60,
    }
    payload |= claims
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, issuer.private_key, algorithm="RS256", headers={"kid": issuer.kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"


def refusal(
    authorizer: JwtAuthorizer, identity: str | None, scopes: tuple[str, ...] = ()
) -> Unauthorized:
    with pytest.raises(Unauthorized) as refused:
        authorizer.authorize(identity, scopes)
    return refused.value


def test_a_valid_token_yields_its_claims_with_or_without_bearer(
    authorizer: JwtAuthorizer, issuer: LocalIssuer
) -> None:
    token = signed(issuer)
    for identity in (f"Bearer {token}", f"bearer {token}", token):
        authorization = authorizer.authorize(identity)
        assert authorization.claims["sub"] == "alice"
        assert authorization.scopes is None
    assert authorizer.authorize(f"Bearer {token}").context()["jwt"]["claims"]["exp"] == str(
        NOW + 60
    )


@pytest.mark.parametrize("identity", [None, "", "Bearer", "Bearer ", "not-a-jwt", "Bearer a.b.c"])
def test_missing_and_malformed_tokens_are_refused(
    authorizer: JwtAuthorizer, identity: str | None
) -> None:
    refused = refusal(authorizer, identity)
    assert (refused.status, refused.message) == (401, "Unauthorized")
    assert refused.www_authenticate.startswith('Bearer scope="" error="invalid_token"')


def test_exp_has_no_leeway(authorizer: JwtAuthorizer, issuer: LocalIssuer) -> None:
    assert authorizer.authorize(signed(issuer, exp=NOW + 1))
    assert refusal(authorizer, signed(issuer, exp=NOW)).description == "the token is expired"
    assert refusal(authorizer, signed(issuer, exp=None)).status == 401
    assert refusal(authorizer, signed(issuer, exp="tomorrow")).status == 401


def test_nbf_and_iat_must_not_be_in_the_future(
    authorizer: JwtAuthorizer, issuer: LocalIssuer
) -> None:
    assert authorizer.authorize(signed(issuer, nbf=NOW, iat=NOW))
    assert (
        refusal(authorizer, signed(issuer, nbf=NOW + 1)).description == "the token is not valid yet"
    )
    assert refusal(authorizer, signed(issuer, iat=NOW + 1)).status == 401


def test_the_issuer_must_match_exactly(authorizer: JwtAuthorizer, issuer: LocalIssuer) -> None:
    for other in (ISSUER + "/", "https://ISSUER.test", "https://evil.test", None):
        assert (
            refusal(authorizer, signed(issuer, iss=other)).description
            == "the token has an invalid issuer"
        )


def test_aud_is_checked_and_client_id_only_without_aud(
    authorizer: JwtAuthorizer, issuer: LocalIssuer
) -> None:
    assert authorizer.authorize(signed(issuer, aud="second-app"))
    assert authorizer.authorize(signed(issuer, aud=["someone-else", LOCAL_AUDIENCE]))
    assert authorizer.authorize(signed(issuer, aud=None, client_id=LOCAL_AUDIENCE))
    wrong = "the token does not have a valid audience"
    assert refusal(authorizer, signed(issuer, aud="someone-else")).description == wrong
    # with both, aud decides: a matching client_id does not rescue a wrong aud
    assert (
        refusal(
            authorizer, signed(issuer, aud="someone-else", client_id=LOCAL_AUDIENCE)
        ).description
        == wrong
    )
    assert refusal(authorizer, signed(issuer, aud=None)).description == wrong


def test_a_token_signed_with_another_key_is_refused(
    authorizer: JwtAuthorizer, issuer: LocalIssuer
) -> None:
    forged = issuer.forger().mint("mallory")
    assert refusal(authorizer, forged).description == "signature is invalid"
    unknown_kid = issuer.with_kid("rotated-away").mint("alice")
    assert refusal(authorizer, unknown_kid).status == 401


def test_alg_none_is_refused(authorizer: JwtAuthorizer, issuer: LocalIssuer) -> None:
    claims = jwt.decode(signed(issuer), options={"verify_signature": False})
    token = unsigned({"alg": "none", "typ": "JWT", "kid": issuer.kid}, claims) + "."
    assert refusal(authorizer, token).description == "the token's signing method is not allowed"


def test_hs256_signed_with_the_public_key_is_refused(
    authorizer: JwtAuthorizer, issuer: LocalIssuer
) -> None:
    # the classic confusion attack: the public key, which anyone can fetch, as an HMAC secret
    public_pem = issuer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = jwt.decode(signed(issuer), options={"verify_signature": False})
    signing_input = unsigned({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}, claims)
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert (
        refusal(authorizer, f"{signing_input}.{b64(mac)}").description
        == "the token's signing method is not allowed"
    )


def test_a_tampered_payload_fails_the_signature(
    authorizer: JwtAuthorizer, issuer: LocalIssuer
) -> None:
    header, _, signature = signed(issuer).split(".")
    claims = jwt.decode(signed(issuer), options={"verify_signature": False}) | {"sub": "admin"}
    payload = b64(json.dumps(claims).encode())
    assert (
        refusal(authorizer, f"{header}.{payload}.{signature}").description == "signature is invalid"
    )


def test_route_scopes_need_one_of_them_and_are_passed_on(
    authorizer: JwtAuthorizer, issuer: LocalIssuer
) -> None:
    granted = authorizer.authorize(signed(issuer, scope="pairs:read pairs:write"), ("pairs:write",))
    assert granted.scopes == ["pairs:read", "pairs:write"]
    assert authorizer.authorize(signed(issuer, scp=["pairs:write"]), ("pairs:write", "admin"))
    refused = refusal(authorizer, signed(issuer, scope="pairs:read"), ("pairs:write",))
    assert (refused.status, refused.message) == (403, "Forbidden")
    assert refused.www_authenticate.startswith(
        'Bearer scope="pairs:write" error="insufficient_scope"'
    )


def test_the_jwks_is_read_per_request_so_a_rotated_key_is_picked_up(issuer: LocalIssuer) -> None:
    current = {"keys": []}
    authorizer = JwtAuthorizer(
        JwtConfiguration(ISSUER, (LOCAL_AUDIENCE,)), lambda: current, clock=lambda: NOW
    )
    assert refusal(authorizer, signed(issuer)).status == 401
    current = issuer.jwks()
    assert authorizer.authorize(signed(issuer))
    rotated = replace(issuer, kid="next")
    assert refusal(authorizer, signed(rotated)).status == 401


@given(
    identity=st.text()
    | st.builds(lambda a, b, c: f"Bearer {a}.{b}.{c}", st.text(), st.text(), st.text())
)
def test_any_garbage_is_refused_with_a_401_and_nothing_else(identity: str) -> None:
    authorizer = JwtAuthorizer(JwtConfiguration(ISSUER, (LOCAL_AUDIENCE,)), lambda: {"keys": []})
    with pytest.raises(Unauthorized) as refused:
        authorizer.authorize(identity)
    assert refused.value.status == 401
    assert "\r" not in refused.value.www_authenticate and "\n" not in refused.value.www_authenticate
