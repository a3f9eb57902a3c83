"""The Pair API in template.yaml: never open, throttled, CORS from a parameter, sized uploads."""

from typing import Any

import pytest

from portrait_fusion.images.preflight import size_limit

PAIR_API_ROUTES = {
    "PairApiCreatePairRoute": "POST /pairs",
    "PairApiDescribePairRoute": "GET /pairs/{pair_id}",
    "PairApiListTemplatesRoute": "GET /templates",
    "PairApiErasePairRoute": "DELETE /pairs/{pair_id}",
}


@pytest.mark.parametrize(("route_id", "route_key"), PAIR_API_ROUTES.items())
def test_every_route_needs_iam_or_a_jwt_never_nothing(
    resources: dict[str, Any], route_id: str, route_key: str
) -> None:
    route = resources[route_id]["Properties"]
    assert route["RouteKey"] == route_key
    assert route["AuthorizationType"] == {"Fn::If": ["UseJwtAuth", "JWT", "AWS_IAM"]}
    assert route["AuthorizerId"] == {
        "Fn::If": ["UseJwtAuth", {"Ref": "PairApiJwtAuthorizer"}, {"Ref": "AWS::NoValue"}]
    }
    assert route["Target"] == {"Fn::Sub": "integrations/${PairApiIntegration}"}


def test_the_routes_are_all_the_api_has(resources: dict[str, Any]) -> None:
    routes = {k for k, r in resources.items() if r["Type"] == "AWS::ApiGatewayV2::Route"}
    assert routes == set(PAIR_API_ROUTES)


def test_auth_defaults_to_iam_and_jwt_takes_issuer_and_audience(
    resources: dict[str, Any], parameters: dict[str, Any], template: dict[str, Any]
) -> None:
    assert parameters["PairApiAuth"]["Default"] == "IAM"
    assert parameters["PairApiAuth"]["AllowedValues"] == ["IAM", "JWT"]
    assert template["Conditions"]["UseJwtAuth"] == {"Fn::Equals": [{"Ref": "PairApiAuth"}, "JWT"]}
    authorizer = resources["PairApiJwtAuthorizer"]
    assert authorizer["Condition"] == "UseJwtAuth"
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    assert authorizer["Properties"]["IdentitySource"] == ["$request.header.Authorization"]
    assert authorizer["Properties"]["JwtConfiguration"] == {
        "Issuer": {"Ref": "JwtIssuer"},
        "Audience": {"Ref": "JwtAudience"},
    }


def test_the_stage_throttles_from_parameters(resources: dict[str, Any]) -> None:
    stage = resources["PairApiStage"]["Properties"]
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "PairApiThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "PairApiThrottlingBurstLimit"},
    }


def test_cors_origins_apply_to_the_api_and_to_browser_uploads(resources: dict[str, Any]) -> None:
    api_cors = resources["PairApi"]["Properties"]["CorsConfiguration"]["Fn::If"]
    assert api_cors[0] == "HasCorsOrigins"
    assert api_cors[1]["AllowOrigins"] == {"Ref": "PairApiCorsOrigins"}
    bucket_cors = resources["InputBucket"]["Properties"]["CorsConfiguration"]["Fn::If"]
    assert bucket_cors[0] == "HasCorsOrigins"
    assert bucket_cors[1]["CorsRules"][0]["AllowedOrigins"] == {"Ref": "PairApiCorsOrigins"}
    assert bucket_cors[1]["CorsRules"][0]["AllowedMethods"] == ["POST"]


def test_uploads_are_capped_at_the_largest_input_the_fusion_function_accepts(
    resources: dict[str, Any], template: dict[str, Any]
) -> None:
    variables = resources["PairApiFunction"]["Properties"]["Environment"]["Variables"]
    condition, when_on, when_off = variables["MAX_UPLOAD_BYTES"]["Fn::If"]
    assert template["Conditions"][condition] == {"Fn::Equals": [{"Ref": "AutoFit"}, "true"]}
    assert (int(when_on), int(when_off)) == (size_limit(auto_fit=True), size_limit(auto_fit=False))


def test_the_catalogue_lies_outside_the_trigger_prefix(parameters: dict[str, Any]) -> None:
    catalogue = parameters["CataloguePrefix"]["Default"]
    assert not catalogue.startswith(parameters["InputPrefix"]["Default"])


def test_the_function_is_invoked_by_this_api_only(resources: dict[str, Any]) -> None:
    permission = resources["PairApiInvokePermission"]["Properties"]
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${PairApi}/*"
    }
