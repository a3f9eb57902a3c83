"""One row of the benchmark's table: a figure for both handlers, its target, its repetitions."""

from __future__ import annotations

import math
from dataclasses import dataclass

from benchmarks.percentiles import spread


@dataclass(frozen=True)
class Figure:
    """Both handlers' values, and the performance target if there is one.

    `limit` is the target in the figure's own unit (what ours must stay at or under, or at
    or over with `at_least`), for the check and the chart, which shows rows with a `chart`
    title. `percent_of` shows each value as a share of it too (throughput of the cap).

    After `repetitions.combine`, `ours` and `baseline` are the repetitions' medians (their
    maximum with `worst_of_reps`: counts where any repetition's loss matters), and
    `ours_reps` / `baseline_reps` hold every repetition's value. `spread_allowance` makes
    the spread a checked one: at most that multiple of the bench's `--max-spread`.
    """

    name: str
    unit: str
    ours: float
    baseline: float
    target: str = ""
    limit: float | None = None
    at_least: bool = False
    chart: str = ""
    percent_of: float | None = None
    spread_allowance: float | None = None
    worst_of_reps: bool = False
    ours_reps: tuple[float, ...] = ()
    baseline_reps: tuple[float, ...] = ()

    @property
    def ratio(self) -> float | None:
        """Ours over the baseline."""
        if not self.baseline or math.isnan(self.baseline):  # NaN: no baseline for this row
            return None
        return self.ours / self.baseline

    @property
    def met(self) -> bool | None:
        """Whether ours meets the target; None where there is none."""
        if self.limit is None:
            return None
        return self.ours >= self.limit if self.at_least else self.ours <= self.limit

    @property
    def ours_spread(self) -> float:
        """How far apart ours' repetitions are, in % of their median."""
        return spread(self.ours_reps or (self.ours,))

    @property
    def ratio_spread(self) -> float:
        """How far apart the repetitions' ratios (ours over the baseline) are, in %: steadier
        than either handler's own spread when the machine's load moves both alike."""
        pairs = zip(self.ours_reps, self.baseline_reps, strict=True)
        return spread([ours / base for ours, base in pairs if base and not math.isnan(base)])

    @property
    def baseline_spread(self) -> float:
        """How far apart the baseline's repetitions are, in % of their median."""
        return spread(self.baseline_reps or (self.baseline,))


def number(value: float) -> str:
    """A figure's value as the table and the chart print it."""
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf"
    if value == int(value):
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
