"""Repetitions: medians and spreads of each figure, and the loud failure of a busy machine."""

from __future__ import annotations

import math

import pytest

from benchmarks.figure import Figure
from benchmarks.percentiles import spread
from benchmarks.repetitions import TOO_LOADED, combine, too_noisy, verdict


def rep(ours: float, baseline: float) -> list[Figure]:
    """One repetition's table: a checked figure with a target relative to the baseline, a
    count, an unchecked sub-row."""
    checked = Figure(
        "warm pair", "ms", ours, baseline, "<= 0.7x", 0.7 * baseline, spread_allowance=1.0
    )
    count = Figure("lost pairs", "", ours % 2, 0.0, "0", 0, worst_of_reps=True)
    return [checked, count, Figure("  p95", "ms", ours, baseline)]


def test_spread_is_the_range_over_the_median_in_percent() -> None:
    assert spread([90.0, 100.0, 110.0]) == pytest.approx(20.0)
    assert spread([5.0]) == 0.0
    assert spread([0.0, 0.0]) == 0.0
    assert math.isinf(spread([0.0, 0.0, 1.0]))
    assert math.isnan(spread([]))


def test_combined_rows_hold_the_median_every_repetition_and_the_target_of_the_median() -> None:
    rows = combine([rep(30.0, 50.0), rep(34.0, 60.0), rep(31.0, 40.0)])
    warm = rows[0]
    assert (warm.ours, warm.baseline) == (31.0, 50.0)
    assert warm.ours_reps == (30.0, 34.0, 31.0)
    assert warm.baseline_reps == (50.0, 60.0, 40.0)
    assert warm.limit == pytest.approx(0.7 * 50.0)
    assert warm.ours_spread == pytest.approx(100 * 4 / 31)


def test_a_count_takes_its_worst_repetition_not_its_median() -> None:
    lost = combine([rep(30.0, 50.0), rep(31.0, 50.0), rep(32.0, 50.0)])[1]
    assert lost.ours == 1.0  # one repetition lost a pair: the median (0) would hide it
    assert lost.met is False


def test_repetitions_of_different_figures_are_refused() -> None:
    with pytest.raises(ValueError, match="different figures"):
        combine([rep(1.0, 2.0), rep(1.0, 2.0)[:2]])


def test_only_checked_figures_beyond_their_bound_are_too_noisy() -> None:
    rows = combine([rep(30.0, 50.0), rep(40.0, 51.0), rep(31.0, 52.0)])
    noisy = too_noisy(rows, max_spread=15.0)
    # ours' warm pair spreads 10/31 = 32 %; the baseline's 4 %; the p95 row is not checked
    assert [(n.figure, n.handler) for n in noisy] == [("warm pair", "ours")]
    assert too_noisy(rows, max_spread=40.0) == []


def test_a_noisier_figure_is_allowed_a_multiple_of_the_bound() -> None:
    def noisy_p95(ours: float, allowance: float) -> list[Figure]:
        return [Figure("  p95", "ms", ours, 50.0, spread_allowance=allowance)]

    spreads_32_percent = [30.0, 40.0, 31.0]
    tripled = combine([noisy_p95(v, 3.0) for v in spreads_32_percent])
    assert too_noisy(tripled, max_spread=15.0) == []  # bound 45 %
    doubled = combine([noisy_p95(v, 2.0) for v in spreads_32_percent])
    assert [n.bound for n in too_noisy(doubled, max_spread=15.0)] == [30.0]


def test_a_busy_machine_fails_the_bench_naming_the_figures() -> None:
    rows = combine([rep(30.0, 50.0), rep(40.0, 51.0), rep(31.0, 52.0)])
    outcome = verdict(rows, 15.0, quick=False)
    assert outcome.exit_status == TOO_LOADED
    assert "too loaded to measure" in outcome.message
    assert "warm pair (ours): spread 32.3 % > 15.0 %" in outcome.message


def test_a_quick_run_never_fails_on_spread_and_a_quiet_one_passes() -> None:
    noisy = combine([rep(30.0, 50.0), rep(90.0, 51.0)])
    assert verdict(noisy, 15.0, quick=True).exit_status == 0
    assert "not checked" in verdict(noisy, 15.0, quick=True).message
    quiet = combine([rep(30.0, 50.0), rep(31.0, 51.0), rep(30.5, 50.5)])
    assert verdict(quiet, 15.0, quick=False).exit_status == 0


def test_the_ratio_can_be_steady_while_a_busy_machine_moves_both_handlers() -> None:
    # every repetition ours is half the baseline, while the load moves both by 50 %
    rows = combine([rep(20.0, 40.0), rep(30.0, 60.0), rep(25.0, 50.0)])
    warm = rows[0]
    assert warm.ours_spread == pytest.approx(40.0)
    assert warm.ratio_spread == 0.0
