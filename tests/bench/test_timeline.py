"""The slot timeline: calls laid on the cap's lanes, the idle gaps, the tail, the plot."""

from __future__ import annotations

import pytest

from benchmarks.timeline import SlotRun, draw, gaps_ms, lanes, slot_stats, stats_table
from local_stack.emulator.ledger import LoggedCall


def call(start: float, end: float, status: int = 200) -> LoggedCall:
    return LoggedCall(start, end, status)


def test_a_call_takes_the_first_lane_free_when_it_arrives() -> None:
    calls = [call(0.0, 1.0), call(0.1, 1.1), call(1.0, 2.0), call(1.2, 2.2)]
    laid = lanes(calls, cap=2)
    assert laid == [[calls[0], calls[2]], [calls[1], calls[3]]]


def test_more_calls_at_once_than_the_cap_open_a_lane_of_their_own() -> None:
    assert len(lanes([call(0, 1), call(0, 1), call(0, 1)], cap=2)) == 3
    assert len(lanes([], cap=4)) == 4


def test_gaps_are_between_consecutive_calls_of_a_lane() -> None:
    assert gaps_ms([call(0.0, 1.0), call(1.05, 2.0), call(2.2, 3.0)]) == pytest.approx(
        [50.0, 200.0]
    )
    assert gaps_ms([call(0.0, 1.0)]) == []


def test_stats_leave_out_refused_calls_and_measure_the_tail_from_the_first_idle_slot() -> None:
    run = SlotRun(
        cap=2,
        started=0.0,
        last_result=3.5,
        calls=[
            call(0.0, 1.0),
            call(0.0, 1.0),
            call(0.5, 0.5, status=429),  # answered at once: no slot taken
            call(1.1, 2.0),
            call(1.3, 3.0),
        ],
    )
    stats = slot_stats(run)
    assert stats.calls == 4
    assert stats.median_gap_ms == pytest.approx(200.0)  # gaps of 100 and 300 ms
    assert stats.p95_gap_ms == pytest.approx(300.0)
    assert stats.tail_ms == pytest.approx(1500.0)  # slot 1 idle for good from 2.0 s


def test_a_slot_that_never_got_a_call_is_idle_from_the_start() -> None:
    run = SlotRun(cap=2, started=0.0, last_result=2.0, calls=[call(0.0, 1.0)])
    assert slot_stats(run).tail_ms == pytest.approx(2000.0)


def test_the_plot_has_a_panel_per_handler_and_the_table_a_column_each() -> None:
    run = SlotRun(cap=2, started=0.0, last_result=2.0, calls=[call(0.1, 1.0), call(0.2, 1.9)])
    image = draw({"ours": run, "baseline": run})
    single = draw({"ours": run})
    assert image.width == single.width
    assert image.height > single.height
    text = stats_table({"ours": [slot_stats(run)], "baseline": [slot_stats(run)]})
    assert text.splitlines()[0].split()[-2:] == ["ours", "baseline"]
    assert "tail" in text
