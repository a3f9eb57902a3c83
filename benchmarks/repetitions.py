"""Repetitions of the whole measurement: one value per handler and repetition, combined.

Every figure is measured `--reps` times, ours and the baseline alternating within each
repetition. The table shows the median of the repetitions and how far apart they are (the
spread); a spread above its bound means the machine was too busy with something else for
the figure to mean anything, and the bench says so and fails.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from benchmarks.figure import Figure
from benchmarks.percentiles import median


def combine(repetitions: list[list[Figure]]) -> list[Figure]:
    """One row per figure from each repetition's rows (the same figures in the same order)."""
    if not repetitions:
        return []
    names = [row.name for row in repetitions[0]]
    for rows in repetitions:
        if [row.name for row in rows] != names:
            raise ValueError("repetitions measured different figures")
    return [_combined([rows[index] for rows in repetitions]) for index in range(len(names))]


def _combined(same: list[Figure]) -> Figure:
    first = same[0]
    ours = tuple(row.ours for row in same)
    baseline = tuple(row.baseline for row in same)

    def pick(values: tuple[float, ...]) -> float:
        if all(math.isnan(value) for value in values):
            return math.nan
        return max(values) if first.worst_of_reps else median(values)

    # The median commutes with the targets' monotone functions of the baseline (0.7x, min).
    limits = [row.limit for row in same if row.limit is not None]
    return dataclasses.replace(
        first,
        ours=pick(ours),
        baseline=pick(baseline),
        limit=median(limits) if limits else None,
        ours_reps=ours,
        baseline_reps=baseline,
    )


@dataclass(frozen=True)
class Noisy:
    """A figure whose repetitions are further apart than its bound allows."""

    figure: str
    handler: str
    spread: float
    bound: float


def too_noisy(rows: list[Figure], max_spread: float) -> list[Noisy]:
    """The checked figures (and handlers) whose spread is above `max_spread` x allowance."""
    noisy = []
    for row in rows:
        if row.spread_allowance is None:
            continue
        bound = max_spread * row.spread_allowance
        for handler, value in (("ours", row.ours_spread), ("baseline", row.baseline_spread)):
            if not math.isnan(value) and value > bound:
                noisy.append(Noisy(row.name.strip(), handler, value, bound))
    return noisy


def loaded_message(noisy: list[Noisy]) -> str:
    """What the bench says when it fails for a busy machine."""
    lines = [
        "the machine was too loaded to measure: the repetitions of these figures differ by "
        "more than their bound, so their medians mean little:"
    ]
    lines += [
        f"  {n.figure} ({n.handler}): spread {n.spread:.1f} % > {n.bound:.1f} %" for n in noisy
    ]
    lines.append("run `make bench` again on a quieter machine (or raise --max-spread)")
    return "\n".join(lines)


@dataclass(frozen=True)
class Verdict:
    """How the bench ends: its exit status and what it says about the spreads."""

    exit_status: int
    message: str


TOO_LOADED = 3


def verdict(rows: list[Figure], max_spread: float, *, quick: bool) -> Verdict:
    """Fail (loudly) when a checked figure is too noisy; a quick run only reports spreads."""
    if quick:
        return Verdict(
            0, "quick run: the spreads are printed, not checked (tiny runs mean nothing)"
        )
    noisy = too_noisy(rows, max_spread)
    if noisy:
        return Verdict(TOO_LOADED, loaded_message(noisy))
    return Verdict(0, f"every checked spread is within its bound (--max-spread {max_spread:g} %)")
