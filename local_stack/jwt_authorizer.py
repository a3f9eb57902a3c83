"""API Gateway's JWT authorizer for HTTP APIs, as its documentation describes it.

For a route with a JWT authorizer, API Gateway takes the token from the identity source
(``Authorization``: the token alone or after ``Bearer``), checks its algorithm (RSA only)
and its signature with the key of the JWKS whose ``kid`` the token names, then the claims:
``iss`` equal to the configured issuer; ``aud`` (or, only when there is no ``aud``,
``client_id``) one of the configured audiences; ``exp`` after now, ``nbf`` and ``iat``
before now, with no leeway; at least one of the route's authorization scopes in ``scope`` or
``scp`` when the route names any. Any failure is a 401 (a missing scope a 403) before the
function runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from local_stack.jwt_issuer import authorizer_context

# "Currently, only RSA-based algorithms are supported": never none, never HMAC.
ALGORITHMS = ("RS256", "RS384", "RS512")


class Unauthorized(Exception):
    """The request is refused; ``status`` and ``error`` make API Gateway's answer."""

    def __init__(self, description: str, *, status: int = 401, scopes: Sequence[str] = ()) -> None:
        super().__init__(description)
        self.description = description
        self.status = status
        self.scopes = tuple(scopes)

    @property
    def message(self) -> str:
        """The body's message: ``Unauthorized`` or ``Forbidden``."""
        return "Forbidden" if self.status == 403 else "Unauthorized"

    @property
    def www_authenticate(self) -> str:
        """The ``www-authenticate`` header API Gateway sends with the refusal."""
        error = "insufficient_scope" if self.status == 403 else "invalid_token"
        return (
            f'Bearer scope="{" ".join(self.scopes)}" error="{error}" '
            f'error_description="{self.description}"'
        )


@dataclass(frozen=True)
class JwtConfiguration:
    """An ``AWS::ApiGatewayV2::Authorizer``'s ``JwtConfiguration``."""

    issuer: str
    audience: tuple[str, ...]


@dataclass(frozen=True)
class Authorization:
    """A verified token: its claims, and its scopes when the route asked for some."""

    claims: dict[str, Any]
    scopes: list[str] | None

    def context(self) -> dict[str, Any]:
        """The event's ``requestContext.authorizer``."""
        return authorizer_context(self.claims, self.scopes)


class JwtAuthorizer:
    """Verifies ``Authorization`` header values against ``configuration`` and a JWKS."""

    def __init__(
        self,
        configuration: JwtConfiguration,
        jwks: Callable[[], Mapping[str, Any]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._configuration = configuration
        self._jwks = jwks
        self._clock = clock

    def authorize(self, identity: str | None, route_scopes: Sequence[str] = ()) -> Authorization:
        """The verified token in ``identity``; raises :class:`Unauthorized`."""
        token = _token(identity)
        claims = self._verified_claims(token)
        self._check_claims(claims)
        if not route_scopes:
            return Authorization(claims, None)
        granted = _scopes(claims)
        if not set(granted) & set(route_scopes):
            raise Unauthorized(
                "the token does not have the required scope", status=403, scopes=route_scopes
            )
        return Authorization(claims, granted)

    def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("the token is not a JWT") from None
        if header.get("alg") not in ALGORITHMS:
            # the description names no value from the token: it goes into a response header
            raise Unauthorized("the token's signing method is not allowed")
        keys = [k for k in self._jwks().get("keys", []) if k.get("kid") == header.get("kid")]
        if not keys:
            raise Unauthorized("the token's kid matches no key of the issuer")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                jwt.PyJWK.from_dict(keys[0], algorithm=header["alg"]),
                algorithms=[header["alg"]],
                # the claims are checked below, exactly as API Gateway checks them
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.PyJWTError:
            raise Unauthorized("signature is invalid") from None
        return claims

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        if claims.get("iss") != self._configuration.issuer:
            raise Unauthorized("the token has an invalid issuer")
        if not _audiences(claims) & set(self._configuration.audience):
            raise Unauthorized("the token does not have a valid audience")
        now = self._clock()
        if not now < _time(claims, "exp", required=True):
            raise Unauthorized("the token is expired")
        if not _time(claims, "nbf") <= now:
            raise Unauthorized("the token is not valid yet")
        if not _time(claims, "iat") <= now:
            raise Unauthorized("the token was issued in the future")


def _token(identity: str | None) -> str:
    """The token of an ``Authorization`` value: all of it, or what follows ``Bearer``."""
    value = (identity or "").strip()
    scheme, _, rest = value.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value
    if not token:
        raise Unauthorized("no token in the Authorization header")
    return token


def _audiences(claims: Mapping[str, Any]) -> set[str]:
    """``aud`` (a string or a list) if present, else ``client_id``."""
    if "aud" in claims:
        aud = claims["aud"]
        listed = aud if isinstance(aud, list) else [aud]
        return {a for a in listed if isinstance(a, str)}
    client_id = claims.get("client_id")
    return {client_id} if isinstance(client_id, str) else set()


def _time(claims: Mapping[str, Any], name: str, *, required: bool = False) -> float:
    """A NumericDate claim; absent ones pass (``exp`` may not be absent)."""
    value = claims.get(name)
    if value is None and not required:
        return float("-inf")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthorized(f"the token's {name} is not a number")
    return float(value)


def _scopes(claims: Mapping[str, Any]) -> list[str]:
    """The token's scopes: ``scope`` (space-separated) or ``scp`` (a list or a string)."""
    granted = claims.get("scope", claims.get("scp", ""))
    if isinstance(granted, str):
        return granted.split()
    return [s for s in granted if isinstance(s, str)] if isinstance(granted, list) else []
