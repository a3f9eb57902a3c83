"""The partner-timeout sweep's Lambda handler, run on a schedule (see `partner_sweep`)."""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from portrait_fusion.core.observability import logger, metrics
from portrait_fusion.core.settings import Settings
from portrait_fusion.entry.bootstrap import build_sweep
from portrait_fusion.partners.partner_sweep import PartnerSweep, SweepContext
from portrait_fusion.results.result_document import FunctionInfo

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@cache
def sweep() -> PartnerSweep:
    """The sweep's object graph, built on first use (once per execution environment)."""
    return build_sweep(Settings.from_env(os.environ))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Any event (the schedule's) runs one sweep; returns how many markers ended which way."""
    del event
    return sweep().run(
        SweepContext(
            FunctionInfo(context.function_name, context.function_version, context.aws_request_id),
            seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
        )
    )
