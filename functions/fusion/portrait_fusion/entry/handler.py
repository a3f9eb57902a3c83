"""The Lambda handler: Powertools around one call into the entry points.

Configuration is validated and the object graph built once per execution environment: at
init in Lambda (where a bad environment variable is left for the first invocation to fail
with its name), else on the first invocation. At init the environment also gets ready for
its first pair in the way its initialization type allows (`warm_up`), and builds the X-Ray
Tracer (its SDK's import and the patching of botocore and requests take longer than the rest
of init): never on an invocation's path, and inside a SnapStart snapshot.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from portrait_fusion.core.observability import logger, metrics, tracer
from portrait_fusion.core.settings import Settings
from portrait_fusion.entry.bootstrap import App, build_app
from portrait_fusion.pipeline.invocation import Invocation
from portrait_fusion.results.result_document import FunctionInfo

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


def init(initialization_type: str | None) -> None:
    """Get ready at init, by Lambda's AWS_LAMBDA_INITIALIZATION_TYPE (None: not in Lambda,
    e.g. a test importing this module, which builds nothing here).

    - `on-demand`: the warm-up runs beside the first pair, which is already waiting.
    - `provisioned-concurrency`: nobody waits for init, so all of it runs now.
    - `snap-start`: what a snapshot may hold is made now; the secret, connections and the
      random state are renewed after every restore.
    """
    if initialization_type is None:
        return
    try:
        warm_up = app().warm_up
    except Exception:  # the first invocation fails with the variable's name
        return
    if initialization_type == "snap-start":
        warm_up.prepare()
        _after_every_restore(warm_up.after_restore)
    elif initialization_type == "provisioned-concurrency":
        warm_up.prepare()
        warm_up.connect()
    else:
        warm_up.in_background()  # its reads and handshake overlap the Tracer's build
    _traced()


def _after_every_restore(hook: Callable[[], None]) -> None:
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found]
            register_after_restore,
        )
    except ImportError:  # only Lambda's managed runtime has it
        logger.warning("snap-start without snapshot_restore_py: nothing is renewed on restore")
        return
    register_after_restore(hook)


init(os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"))
