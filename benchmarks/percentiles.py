"""The few statistics the benchmark reports: the median, the 95th percentile, the spread."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    """The median, or NaN for no values."""
    return statistics.median(values) if values else math.nan


def p95(values: Sequence[float]) -> float:
    """The 95th percentile by nearest rank."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def spread(values: Sequence[float]) -> float:
    """(max - min) / |median| in %: how far apart repetitions of one figure landed.

    0 for one value or equal values; infinite when they differ around a median of 0; NaN
    for no values (or NaN ones: a figure a handler does not have).
    """
    finite = [value for value in values if not math.isnan(value)]
    if not finite:
        return math.nan
    width = max(finite) - min(finite)
    if width == 0:
        return 0.0
    middle = abs(median(finite))
    return math.inf if middle == 0 else 100 * width / middle
