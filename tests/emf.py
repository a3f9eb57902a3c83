"""Reading the metrics a handler printed: CloudWatch's embedded metric format (EMF), one JSON
object per line on stdout, as Powertools writes them."""

from __future__ import annotations

import json


def metric_total(output: str, name: str) -> float:
    """The sum of metric `name`'s data points in the EMF lines of `output`."""
    total = 0.0
    for line in output.splitlines():
        if f'"{name}"' in line:
            value = json.loads(line)[name]
            total += sum(value) if isinstance(value, list) else value
    return total
