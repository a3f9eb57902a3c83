"""What API Gateway puts in front of the Pair API function, read from template.yaml.

The routes (``AWS::ApiGatewayV2::Route``: route key, authorization type and scopes) and the
stage's default route throttling (``AWS::ApiGatewayV2::Stage``), resolved as CloudFormation
would in the template's JWT mode (``PairApiAuth=JWT``), which the local Pair API stands in
for. A route or stage setting the local stack cannot reproduce raises
:class:`~local_stack.cfn.TemplateError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from local_stack.cfn import Template, TemplateError

API_ID = "PairApi"
JWT_MODE = {"PairApiAuth": "JWT"}
_PARAMETER = re.compile(r"^\{([A-Za-z0-9_]+)(\+?)\}$")


@dataclass(frozen=True)
class Route:
    """One route: ``GET /pairs/{pair_id}``, and who may call it."""

    method: str
    path: str
    authorization: str = "JWT"
    """``JWT`` (the authorizer runs) or ``NONE``."""
    scopes: tuple[str, ...] = ()
    """Authorization scopes; a token needs at least one of them."""

    @property
    def key(self) -> str:
        """The route key, as the event's ``routeKey`` names it."""
        return f"{self.method} {self.path}"

    def parameters(self, path: str) -> dict[str, str] | None:
        """The path parameters when ``path`` matches this route's path, else None.

        ``{name}`` matches one segment, ``{name+}`` the rest of the path.
        """
        pattern = self.path.split("/")[1:]
        given = path.split("/")[1:]
        found: dict[str, str] = {}
        for index, segment in enumerate(pattern):
            parameter = _PARAMETER.match(segment)
            if parameter and parameter.group(2):
                rest = given[index:]
                if not rest or not rest[0]:
                    return None
                found[parameter.group(1)] = unquote("/".join(rest))
                return found
            if index >= len(given) or not given[index]:
                return None
            if parameter:
                found[parameter.group(1)] = unquote(given[index])
            elif segment != given[index]:
                return None
        return found if len(given) == len(pattern) else None


@dataclass(frozen=True)
class RouteMatch:
    """The route a request goes to, with its path parameters."""

    route: Route
    parameters: dict[str, str]


@dataclass(frozen=True)
class Throttling:
    """A stage's default route throttling: steady requests per second and the burst."""

    rate_limit: float
    burst_limit: int


@dataclass(frozen=True)
class HttpApi:
    """An HTTP API's routes and throttling."""

    routes: tuple[Route, ...]
    throttling: Throttling | None = None

    def find(self, method: str, path: str) -> RouteMatch | None:
        """The route for ``method`` and ``path``: a method's own route before ``ANY``."""
        for wanted in (method, "ANY"):
            for route in self.routes:
                parameters = route.parameters(path) if route.method == wanted else None
                if parameters is not None:
                    return RouteMatch(route, parameters)
        return None

    def methods(self, path: str) -> list[str]:
        """The methods routes accept on ``path`` (for a 405's ``Allow``); none: no such path."""
        return sorted({r.method for r in self.routes if r.parameters(path) is not None})


def read_http_api(
    template: str | Path | Mapping[str, Any],
    *,
    overrides: Mapping[str, str] | None = None,
    stack_name: str,
    region: str,
    account_id: str,
) -> HttpApi:
    """The Pair API's routes and throttling as ``template`` (a path, or the parsed document)
    declares them in JWT mode."""
    jwt_mode = {**(overrides or {}), **JWT_MODE}
    resolved = (
        Template(
            template,
            overrides=jwt_mode,
            stack_name=stack_name,
            region=region,
            account_id=account_id,
        )
        if isinstance(template, Mapping)
        else Template.load(
            template,
            overrides=jwt_mode,
            stack_name=stack_name,
            region=region,
            account_id=account_id,
        )
    )
    resources: Mapping[str, Mapping[str, Any]] = resolved.document.get("Resources", {})
    routes: list[Route] = []
    throttling = None
    for logical_id, resource in resources.items():
        if resource.get("Properties", {}).get("ApiId") != {"Ref": API_ID}:
            continue
        if resource["Type"] == "AWS::ApiGatewayV2::Route":
            routes.append(_route(resolved, logical_id))
        elif resource["Type"] == "AWS::ApiGatewayV2::Stage":
            throttling = _throttling(resolved, logical_id)
    return HttpApi(tuple(routes), throttling)


def _route(template: Template, logical_id: str) -> Route:
    declared = template.properties(
        logical_id, "RouteKey", "AuthorizationType", "AuthorizationScopes"
    )
    method, _, path = str(declared["RouteKey"]).partition(" ")
    authorization = declared.get("AuthorizationType", "NONE")
    if authorization not in ("JWT", "NONE") or not path.startswith("/"):
        raise TemplateError(
            f"{logical_id}: route {declared['RouteKey']!r} with {authorization} authorization "
            "cannot be served by the local Pair API"
        )
    return Route(method, path, authorization, tuple(declared.get("AuthorizationScopes", ())))


def _throttling(template: Template, logical_id: str) -> Throttling | None:
    declared = template.properties(logical_id, "DefaultRouteSettings", "RouteSettings")
    if declared.get("RouteSettings"):
        raise TemplateError(f"{logical_id}: per-route settings are not served locally")
    settings = declared.get("DefaultRouteSettings", {})
    if "ThrottlingRateLimit" not in settings or "ThrottlingBurstLimit" not in settings:
        return None
    return Throttling(float(settings["ThrottlingRateLimit"]), int(settings["ThrottlingBurstLimit"]))
