"""Logger, Metrics and (in Lambda) Tracer, shared by every module, configured by env vars.

The Tracer is built only where X-Ray can receive traces (its SDK import costs more than the
rest of the function's imports together), at init (`entry.handler`).
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "portrait-fusion")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "PortraitFusion")

logger = Logger(service=SERVICE)
_metrics_lock = threading.Lock()  # two messages of a batch run on two threads
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# An invocation with nothing to count is normal (a test event skipped, a sweep with nothing
# due), yet Powertools warns on every such flush; its documentation suggests this filter.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)

# Lambda sets the root logger to the function's log level. At DEBUG, botocore logs response
# bodies, GetSecretValue's included: keep the SDK's and HTTP libraries' own logs above that.
for _noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)
# The X-Ray SDK warns of every traced call made before an invocation has a trace (the
# warm-up's, at init), which it cannot record: expected, not worth a log line each.
logging.getLogger("aws_xray_sdk").setLevel(logging.ERROR)


@cache
def tracer() -> Tracer | None:
    """The X-Ray tracer, or None where tracing is off (POWERTOOLS_TRACE_DISABLED, off Lambda)."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true"}
    # Powertools' own test: LAMBDA_TASK_ROOT exists in Lambda, not in local emulations.
    in_lambda = "LAMBDA_TASK_ROOT" in os.environ and "AWS_SAM_LOCAL" not in os.environ
    if disabled or not in_lambda:
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE, patch_modules=("botocore", "requests"))


def count(name: str, value: float = 1) -> None:
    """Add `value` occurrences to the invocation's EMF metric `name` (from any thread)."""
    measure(name, value, unit="Count")


def measure(name: str, value: float, unit: str) -> None:
    """Add a data point in `unit` (a latency, a size) to the invocation's EMF metrics."""
    with _metrics_lock:
        metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)


def count_failure(name: str, code: str) -> None:
    """Count a failure, and the same failure by its error code (a dimension of its own)."""
    count(name)
    with single_metric(
        name=f"{name}ByCode", unit=MetricUnit.Count, value=1, namespace=NAMESPACE
    ) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        metric.add_dimension(name="code", value=code)
