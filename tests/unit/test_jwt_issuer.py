"""The local stack's JWT issuer: tokens a standard JWT library accepts, claims as API Gateway
renders them (no server, no network)."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from local_stack.jwt_issuer import LOCAL_AUDIENCE, LocalIssuer, authorizer_context, claim_text

ISSUER = "https://issuer.test"


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer.generate(ISSUER)


def verify(token: str, jwks: dict[str, Any], **options: Any) -> dict[str, Any]:
    """What any relying party does: the key by kid from the JWKS, then signature and claims."""
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=["RS256"], audience=LOCAL_AUDIENCE, issuer=ISSUER, **options
    )
    return claims


def test_a_minted_token_verifies_against_the_published_jwks(issuer: LocalIssuer) -> None:
    before = int(time.time())
    token = issuer.mint("alice")
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"]) == ("RS256", issuer.kid)
    claims = verify(token, issuer.jwks())
    assert (claims["sub"], claims["iss"], claims["aud"]) == ("alice", ISSUER, LOCAL_AUDIENCE)
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] == claims["iat"] + 3600
    assert "nbf" not in claims


def test_the_jwks_holds_only_the_public_half(issuer: LocalIssuer) -> None:
    (key,) = issuer.jwks()["keys"]
    assert (key["kty"], key["kid"], key["use"], key["alg"]) == ("RSA", issuer.kid, "sig", "RS256")
    assert {"n", "e"} <= key.keys()
    assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()


def test_times_are_seconds_from_now(issuer: LocalIssuer) -> None:
    claims = jwt.decode(
        issuer.mint("bob", expires_in=-5, not_before=60), options={"verify_signature": False}
    )
    assert claims["exp"] == claims["iat"] - 5
    assert claims["nbf"] == claims["iat"] + 60
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(issuer.mint("bob", expires_in=-5), issuer.jwks())
    with pytest.raises(jwt.ImmatureSignatureError):
        verify(issuer.mint("bob", not_before=60), issuer.jwks())


def test_extra_claims_are_added_and_none_removes_one(issuer: LocalIssuer) -> None:
    token = issuer.mint(
        "carol", scope=["pairs:read", "pairs:write"], claims={"aud": None, "client_id": "app"}
    )
    claims = jwt.decode(token, options={"verify_signature": False})
    assert "aud" not in claims
    assert (claims["client_id"], claims["scope"]) == ("app", "pairs:read pairs:write")


def test_a_forged_token_names_the_real_key_but_fails_its_signature(issuer: LocalIssuer) -> None:
    forged = issuer.forger().mint("mallory")
    assert jwt.get_unverified_header(forged)["kid"] == issuer.kid
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, issuer.jwks())


def test_every_run_gets_a_key_of_its_own() -> None:
    first, second = LocalIssuer.generate(ISSUER), LocalIssuer.generate(ISSUER)
    assert first.kid != second.kid
    assert first.jwks()["keys"][0]["n"] != second.jwks()["keys"][0]["n"]


def test_the_state_signs_for_the_same_issuer_in_another_process(issuer: LocalIssuer) -> None:
    restored = LocalIssuer.from_state(issuer.to_state())
    assert verify(restored.mint("dave"), issuer.jwks())["sub"] == "dave"


def test_the_discovery_document_points_at_the_jwks(issuer: LocalIssuer) -> None:
    assert issuer.discovery()["issuer"] == ISSUER
    assert issuer.discovery()["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"


def test_the_authorizer_block_carries_every_claim_as_a_string(issuer: LocalIssuer) -> None:
    block = issuer.authorizer("erin", claims={"cognito:groups": ["admins", "users"]})
    claims = block["jwt"]["claims"]
    assert (claims["sub"], claims["iss"], claims["aud"]) == ("erin", ISSUER, LOCAL_AUDIENCE)
    assert claims["exp"] == str(int(claims["iat"]) + 3600)
    assert claims["cognito:groups"] == "[admins users]"
    assert block["jwt"]["scopes"] is None
    assert all(isinstance(value, str) for value in claims.values())


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("alice", "alice"),
        (1675021635, "1675021635"),
        (0.5, "0.5"),
        (True, "true"),
        (["a", 1, False], "[a 1 false]"),
        ({"b": 2, "a": "x"}, "map[a:x b:2]"),
        (None, "<nil>"),
    ],
)
def test_claim_values_render_as_api_gateway_renders_them(value: Any, text: str) -> None:
    assert claim_text(value) == text


def test_route_scopes_are_passed_as_a_list() -> None:
    assert authorizer_context({"sub": "x"}, ["pairs:read"]) == {
        "jwt": {"claims": {"sub": "x"}, "scopes": ["pairs:read"]}
    }
