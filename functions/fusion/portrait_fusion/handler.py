"""The Lambda handler: Powertools around one call into the entry points.

Configuration is validated and the object graph built once per execution environment, on the
first invocation; a bad environment variable fails that invocation with its name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from portrait_fusion.bootstrap import App, build_app
from portrait_fusion.invocation import Invocation
from portrait_fusion.observability import logger, metrics, tracer
from portrait_fusion.result_document import FunctionInfo
from portrait_fusion.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@cache
def app() -> App:
    """The function's object graph, built on first use (one per execution environment)."""
    return build_app(Settings.from_env(os.environ))


def reset() -> None:
    """Forget the object graph (tests change the environment between cases)."""
    app.cache_clear()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    current = app()
    current.guard.register_context(context)
    invocation = Invocation(
        FunctionInfo(context.function_name, context.function_version, context.aws_request_id),
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    return current.entrypoints.handle(event, invocation)


@cache
def _traced() -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """`_handle`, wrapped by the Tracer where there is one; built once per container."""
    active = tracer()
    return _handle if active is None else active.capture_lambda_handler(_handle)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Entry point for every event kind (the README's entry points)."""
    return _traced()(event, context)
