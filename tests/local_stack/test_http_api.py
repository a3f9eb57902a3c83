"""The local Pair API's routes and throttling come from template.yaml, not from a copy."""

from __future__ import annotations

from pathlib import Path

import cfn_tools  # type: ignore[import-untyped]
import pytest

from local_stack.cfn import TemplateError
from local_stack.http_api import HttpApi, Route, read_http_api
from tests.harness import TEMPLATE


def read(template: Path = TEMPLATE, **overrides: str) -> HttpApi:
    return read_http_api(
        template,
        overrides=overrides,
        stack_name="routes",
        region="us-east-1",
        account_id="123456789012",
    )


def test_every_route_of_the_template_is_served_behind_the_jwt_authorizer() -> None:
    # read independently of local_stack.cfn: the route keys the template declares
    document = cfn_tools.load_yaml(TEMPLATE.read_text(encoding="utf-8"))
    declared = {
        resource["Properties"]["RouteKey"]
        for resource in document["Resources"].values()
        if resource["Type"] == "AWS::ApiGatewayV2::Route"
    }
    api = read()
    assert {route.key for route in api.routes} == declared
    assert {route.authorization for route in api.routes} == {"JWT"}


def test_throttling_is_the_stage_default_and_follows_the_parameters() -> None:
    default = read().throttling
    assert default is not None
    assert (default.rate_limit, default.burst_limit) == (10, 20)
    tuned = read(PairApiThrottlingRateLimit="2", PairApiThrottlingBurstLimit="5").throttling
    assert tuned is not None
    assert (tuned.rate_limit, tuned.burst_limit) == (2, 5)


def test_authorization_scopes_declared_on_a_route_are_read(tmp_path: Path) -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    route_key = "      RouteKey: DELETE /pairs/{pair_id}\n"
    assert route_key in text
    # the route's own scopes in place of the PairApiScopes every route declares
    declared = (
        "      AuthorizationScopes: !If [HasPairApiScopes, !Ref PairApiScopes, !Ref AWS::NoValue]\n"
    )
    at = text.index(declared, text.index(route_key))
    scoped = tmp_path / "template.yaml"
    scoped.write_text(
        text[:at] + "      AuthorizationScopes: [pairs/erase]\n" + text[at + len(declared) :]
    )
    routes = {route.key: route for route in read(scoped).routes}
    assert routes["DELETE /pairs/{pair_id}"].scopes == ("pairs/erase",)
    assert routes["GET /pairs/{pair_id}"].scopes == ()


def test_pair_api_scopes_apply_to_every_route() -> None:
    scoped = read(PairApiScopes="portrait-fusion/pairs,portrait-fusion/admin").routes
    assert {route.scopes for route in scoped} == {
        ("portrait-fusion/pairs", "portrait-fusion/admin")
    }
    assert {route.scopes for route in read().routes} == {()}


def test_a_route_the_local_stack_cannot_serve_is_refused(tmp_path: Path) -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    authorization = "AuthorizationType: !If [UseJwtAuth, JWT, AWS_IAM]"
    broken = tmp_path / "template.yaml"
    broken.write_text(text.replace(authorization, "AuthorizationType: CUSTOM", 1))
    with pytest.raises(TemplateError, match="CUSTOM authorization"):
        read(broken)


@pytest.mark.parametrize(
    ("path", "parameters"),
    [
        ("/pairs/abc", {"pair_id": "abc"}),
        ("/pairs/a%20b", {"pair_id": "a b"}),
        ("/pairs", None),
        ("/pairs/", None),
        ("/pairs/abc/extra", None),
        ("/pairs//", None),
    ],
)
def test_a_path_parameter_is_one_segment(path: str, parameters: dict[str, str] | None) -> None:
    assert Route("GET", "/pairs/{pair_id}").parameters(path) == parameters


def test_a_greedy_parameter_takes_the_rest_and_a_method_route_wins_over_any() -> None:
    api = HttpApi((Route("ANY", "/files/{proxy+}"), Route("GET", "/files/{proxy+}")))
    found = api.find("GET", "/files/a/b.txt")
    assert found is not None
    assert (found.route.method, found.parameters) == ("GET", {"proxy": "a/b.txt"})
    any_method = api.find("PUT", "/files/a")
    assert any_method is not None
    assert any_method.route.method == "ANY"
    assert api.find("GET", "/files/") is None
    assert api.methods("/files/x") == ["ANY", "GET"]
