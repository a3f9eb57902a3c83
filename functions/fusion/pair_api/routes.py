"""The HTTP routes on Powertools' API Gateway HTTP API resolver: parse, delegate, serialise."""

from __future__ import annotations

import json
from collections.abc import Callable

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from pair_api.errors import PairApiError, StoreUnavailable
from pair_api.owner import owner_of
from pair_api.pair_request import parse_new_pair
from pair_api.service import PairService
from portrait_fusion.core.errors import StorageError


def error_response(status: int, code: str, message: str) -> Response[str]:
    """The API's one error shape: `{"error": {"code", "message"}}`."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": {"code": code, "message": message}}),
    )


def build_resolver(service: Callable[[], PairService]) -> APIGatewayHttpResolver:
    """The API's routes over the service that `service()` returns (built on first use)."""
    app = APIGatewayHttpResolver()

    def owner() -> str:
        return owner_of(app.current_event.raw_event.get("requestContext") or {})

    @app.post("/pairs")
    def create_pair() -> Response[str]:
        event = app.current_event
        caller = owner()
        request = parse_new_pair(event.body, event.headers.get("content-type"))
        created = service().create_pair(request, caller)
        scheme = event.headers.get("x-forwarded-proto", "https")
        created["status_url"] = (
            f"{scheme}://{event.request_context.domain_name}/pairs/{created['pair_id']}"
        )
        return Response(201, content_types.APPLICATION_JSON, json.dumps(created))

    @app.get("/pairs/<pair_id>")
    def describe_pair(pair_id: str) -> Response[str]:
        described = service().describe_pair(pair_id, owner())
        return Response(200, content_types.APPLICATION_JSON, json.dumps(described))

    @app.delete("/pairs/<pair_id>")
    def erase_pair(pair_id: str) -> Response[str]:
        erased = service().erase_pair(pair_id, owner())
        return Response(200, content_types.APPLICATION_JSON, json.dumps(erased))

    @app.get("/templates")
    def list_templates() -> Response[str]:
        owner()  # signed-in callers only, as every route
        return Response(200, content_types.APPLICATION_JSON, json.dumps(service().list_templates()))

    @app.exception_handler(PairApiError)  # type: ignore[untyped-decorator]
    def refuse(error: PairApiError) -> Response[str]:
        return error_response(error.status, error.code, error.message)

    @app.exception_handler(StorageError)  # type: ignore[untyped-decorator]
    def unavailable(error: StorageError) -> Response[str]:
        refused = StoreUnavailable(error.message)
        return error_response(refused.status, refused.code, refused.message)

    @app.not_found
    def no_route(_: Exception) -> Response[str]:
        event = app.current_event
        return error_response(404, "ROUTE_NOT_FOUND", f"no route {event.http_method} {event.path}")

    return app
