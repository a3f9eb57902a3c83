"""The published description is the source of truth: it is current, and the function's routes
and the template's routes are exactly the ones it describes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from cfn_tools import load_yaml

from ops import openapi
from pair_api.routes import build_resolver

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


def described() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(openapi.DOCUMENT.read_text())
    return loaded


def described_routes() -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, operations in described()["paths"].items()
        for method in operations
        if method in METHODS
    }


def test_the_committed_document_is_current() -> None:
    assert openapi.DOCUMENT.read_text() == openapi.rendered(), "run python -m ops.openapi"
    assert openapi.main(["--check"]) == 0


def test_the_functions_routes_are_the_described_ones() -> None:
    app = build_resolver(lambda: None)  # type: ignore[arg-type, return-value]
    # Powertools keeps registered routes here; `<name>` is its path parameter syntax.
    parameter, as_openapi = re.compile(r"<(\w+)>"), r"{\1}"
    registered = {
        route.method + " " + parameter.sub(as_openapi, route.path)
        for route in [*app._static_routes, *app._dynamic_routes]
    }
    assert registered == described_routes()


def test_the_templates_routes_are_the_described_ones_each_behind_an_authorizer() -> None:
    template = load_yaml((ROOT / "template.yaml").read_text())
    routes = {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::ApiGatewayV2::Route"
    }
    assert {route["RouteKey"] for route in routes.values()} == described_routes()
    for route in routes.values():
        assert route["AuthorizationType"] == {"Fn::If": ["UseJwtAuth", "JWT", "AWS_IAM"]}


def test_the_document_is_valid_openapi_3_1_with_a_security_scheme_on_every_route() -> None:
    document = described()
    assert document["openapi"].startswith("3.1")
    schemes = document["components"]["securitySchemes"]
    assert {"bearerAuth", "sigv4"} <= set(schemes)
    assert document["security"] == [{"bearerAuth": []}, {"sigv4": []}]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "401" in operation["responses"], (method, path)
            assert "429" in operation["responses"], (method, path)
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_error_code_the_function_answers_is_described() -> None:
    codes = described()["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
    assert {
        "INVALID_REQUEST",
        "UNAUTHENTICATED",
        "PAIR_NOT_FOUND",
        "ROUTE_NOT_FOUND",
        "REQUEST_TOO_LARGE",
        "UNSUPPORTED_MEDIA_TYPE",
        "DAILY_BUDGET_EXHAUSTED",
        "STORAGE_ERROR",
    } == set(codes["code"]["enum"])


def test_the_view_in_the_document_is_the_published_view_schema() -> None:
    view = described()["components"]["schemas"]["PairView"]
    published = yaml.safe_load(openapi.VIEW_SCHEMA.read_text())
    assert view == {k: v for k, v in published.items() if k not in ("$schema", "$id")}
