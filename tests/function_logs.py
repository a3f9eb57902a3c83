"""Reading what the function logged on the local stack (a worker's log file, JSON lines)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def metric_total(log_file: Path, name: str) -> float:
    """The sum of the EMF metric `name` over every invocation the function logged."""
    total = 0.0
    for line in log_file.read_text().splitlines():
        if not line.startswith("{"):
            continue
        record: dict[str, Any] = json.loads(line)
        if "_aws" in record and name in record:
            values = record[name]
            total += sum(values) if isinstance(values, list) else values
    return total
