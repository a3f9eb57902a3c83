"""The local stack's JWT issuer, and the ``authorizer`` block API Gateway makes of a token.

The deployed Pair API trusts an OIDC issuer through API Gateway's JWT authorizer
(``PairApiAuth=JWT`` with ``JwtIssuer`` and ``JwtAudience``). Locally, :class:`LocalIssuer`
plays that issuer: a fresh RS256 key pair per run (never written anywhere but the running
stack's state file), its public half published as a JWKS, and tokens signed for any
subject. :func:`authorizer_context` is what the function then finds in
``event["requestContext"]["authorizer"]``, so tests without a server can build the same
events the local Pair API sends.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM = "RS256"
# The audience the local stack's tokens carry and its authorizer accepts (JwtAudience).
LOCAL_AUDIENCE = "portrait-fusion-local"
JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class LocalIssuer:
    """An OIDC issuer of RS256 tokens, its signing key held in memory."""

    issuer: str
    """The ``iss`` claim and the base of the JWKS URL (the local Pair API's own URL)."""
    audience: str
    """The ``aud`` claim, one of the authorizer's accepted audiences."""
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, issuer: str, audience: str = LOCAL_AUDIENCE) -> LocalIssuer:
        """A new issuer with a fresh 2048-bit key and a random key id."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(issuer, audience, secrets.token_urlsafe(12), key)

    def forger(self) -> LocalIssuer:
        """An issuer claiming to be this one (same ``iss``, ``aud`` and ``kid``) with a key of
        its own: what an attacker can sign. Its tokens must be refused."""
        return LocalIssuer.generate(self.issuer, self.audience).with_kid(self.kid)

    def with_kid(self, kid: str) -> LocalIssuer:
        """This issuer with another key id in its tokens and JWKS."""
        return LocalIssuer(self.issuer, self.audience, kid, self.private_key)

    def jwks(self) -> dict[str, Any]:
        """The public key as a JSON Web Key Set, as served at ``<issuer>/.well-known/jwks.json``."""
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": ALGORITHM}]}

    def discovery(self) -> dict[str, Any]:
        """The OpenID Connect discovery document: where API Gateway finds the JWKS."""
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}{JWKS_PATH}",
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        }

    def mint(
        self,
        subject: str,
        *,
        expires_in: float = 3600,
        not_before: float | None = None,
        scope: Sequence[str] = (),
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed token for ``subject``: ``iss``, ``sub``, ``aud``, ``iat``, ``exp``.

        ``expires_in`` and ``not_before`` are seconds from now (negative: in the past), so
        ``expires_in=-1`` is an expired token and ``not_before=60`` one valid in a minute.
        ``scope`` becomes the space-separated ``scope`` claim; ``claims`` are added on top,
        a ``None`` value removing a claim (e.g. ``{"aud": None, "client_id": ...}``).
        """
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "iat": now,
            "exp": now + int(expires_in),
        }
        if not_before is not None:
            payload["nbf"] = now + int(not_before)
        if scope:
            payload["scope"] = " ".join(scope)
        for name, value in (claims or {}).items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        return jwt.encode(payload, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def authorizer(self, subject: str, **mint_options: Any) -> dict[str, Any]:
        """The ``requestContext.authorizer`` API Gateway passes for a token minted for
        ``subject`` (its signature checked against this issuer's key)."""
        token = self.mint(subject, **mint_options)
        claims = jwt.decode(
            token,
            self.private_key.public_key(),
            algorithms=[ALGORITHM],
            audience=self.audience,
            issuer=self.issuer,
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
        return authorizer_context(claims)

    def to_state(self) -> dict[str, str]:
        """What a second process needs to sign for this issuer (the private key, as PEM)."""
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return {
            "issuer": self.issuer,
            "audience": self.audience,
            "kid": self.kid,
            "pem": pem.decode(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, str]) -> LocalIssuer:
        """The issuer :meth:`to_state` described."""
        key = serialization.load_pem_private_key(state["pem"].encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the issuer's key is not an RSA key")
        return cls(state["issuer"], state["audience"], state["kid"], key)


def authorizer_context(
    claims: Mapping[str, Any], scopes: Sequence[str] | None = None
) -> dict[str, Any]:
    """``requestContext.authorizer`` of a payload 2.0 event for a verified token's claims.

    API Gateway passes every claim as a string (``exp`` as ``"1675021635"``) and ``scopes``
    as null unless the route names authorization scopes.
    """
    rendered = {name: claim_text(value) for name, value in claims.items()}
    return {"jwt": {"claims": rendered, "scopes": list(scopes) if scopes else None}}


def claim_text(value: Any) -> str:
    """A claim value as API Gateway renders it into the event.

    Its rendering is Go's default formatting of the decoded JSON value: an array such as
    ``cognito:groups`` arrives as ``"[admins users]"`` (space-separated, in brackets, not
    JSON), numbers keep their JSON form, booleans are ``true``/``false``.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + " ".join(claim_text(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{name}:{claim_text(value[name])}" for name in sorted(value))
        return "map[" + " ".join(pairs) + "]"
    return "<nil>"
