"""Who is calling: the owner of the pairs a request creates, reads or erases.

API Gateway authenticates every route before the function runs and passes who it let in:
with the JWT authorizer, the token's verified claims (`requestContext.authorizer.jwt.claims`),
of which the issuer (`iss`) and subject (`sub`) name a user; with IAM auth, the caller's
principal (`requestContext.authorizer.iam.userArn`). The owner id is a digest of those, so
records, counters and logs never hold a user's own identifiers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pair_api.errors import Unauthenticated


def owner_of(request_context: Mapping[str, Any]) -> str:
    """The owner id of the caller an API Gateway `requestContext` names; `Unauthenticated`
    when it names none (a route without an authorizer)."""
    authorizer = request_context.get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    issuer, subject = claims.get("iss"), claims.get("sub")
    principal = (authorizer.get("iam") or {}).get("userArn")
    if isinstance(issuer, str) and isinstance(subject, str) and issuer and subject:
        identity = f"jwt\n{issuer}\n{subject}"
    elif isinstance(principal, str) and principal:
        identity = f"iam\n{principal}"
    else:
        raise Unauthenticated("the request names no caller: every route needs an authorizer")
    return hashlib.sha256(identity.encode()).hexdigest()[:32]
