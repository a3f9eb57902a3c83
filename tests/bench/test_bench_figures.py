"""The benchmark's own arithmetic: import-time parsing, percentiles, targets, busy share, and
the order of the table's figures."""

from __future__ import annotations

import math

from benchmarks.figure import Figure
from benchmarks.percentiles import p95
from benchmarks.report import figures
from benchmarks.round_trips import RoundTrips
from benchmarks.runner import FULL, Measured
from benchmarks.sandbox import Handled, Startup, parse_importtime
from benchmarks.throughput import Throughput, busy_share
from benchmarks.timeline import SlotRun, steady_share
from local_stack.emulator.ledger import LoggedCall
from tests.bench.targets import TARGETS

IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   _json
import time:       400 |        500 | json
import time:      2000 |       2000 |     botocore.vendored
import time:      1000 |       3000 |   botocore
import time:       500 |       3500 | boto3
import time:       300 |        300 | portrait_fusion.entry.handler
"""


def test_import_time_is_summed_by_top_level_package() -> None:
    totals = parse_importtime(IMPORTTIME, skip={"json"})
    assert totals == {"botocore": 3.0, "boto3": 0.5, "portrait_fusion": 0.3, "stdlib": 0.1}
    assert list(totals) == sorted(totals, key=lambda name: -totals[name])


def test_p95_is_the_nearest_rank() -> None:
    assert p95([float(v) for v in range(1, 101)]) == 95.0
    assert p95([3.0]) == 3.0
    assert math.isnan(p95([]))


def test_a_target_is_met_only_on_the_right_side_of_its_limit() -> None:
    assert Figure("warm", "ms", 30.0, 50.0, "<= 0.7x", 35.0).met is True
    assert Figure("warm", "ms", 40.0, 50.0, "<= 0.7x", 35.0).met is False
    assert Figure("flow", "pairs/s", 3.9, 3.0, ">= 95%", 3.8, at_least=True).met is True
    assert Figure("flow", "pairs/s", 3.7, 3.0, ">= 95%", 3.8, at_least=True).met is False
    assert Figure("info", "ms", 1.0, 2.0).met is None
    assert Figure("info", "ms", 1.0, 2.0).ratio == 0.5


def test_busy_share_leaves_out_the_ramp_up_and_the_tail() -> None:
    # ramp-up (0, 1), full use with one dip, then a tail with workers idle
    samples = [0, 1, 4, 4, 3, 4, 4, 2, 1, 0]
    assert busy_share(samples, cap=4) == (4 + 4 + 3 + 4 + 4) / 5 / 4
    assert busy_share([0, 1, 2], cap=4) == 0.0


def measured(scale: float) -> Measured:
    """One handler's repetition with every sample `scale` times a base value."""
    handled = Handled(
        wall_ms=100 * scale, cpu_ms=20 * scale, peak_rss_mb=80 * scale, start=0.0, end=1.0
    )
    slow = Handled(2060 * scale, 20, 80, 0.0, 2.1)
    # 100 calls of 1 s on 4 slots: 25 s of calls at best
    calls = [
        LoggedCall(second + lane * 0.01, second + lane * 0.01 + 1.0, 200)
        for second in range(25)
        for lane in range(4)
    ]
    run = Throughput(
        pairs=100,
        seconds=30 * scale,
        pairs_per_second=100 / (30 * scale),
        cap_pairs_per_second=4.0,
        succeeded=100,
        lost=0,
        api_calls=100,
        duplicate_calls=0,
        rate_limited_calls=0,
        busy_share_of_cap=0.9,
        slots=SlotRun(cap=4, started=0.0, last_result=30.0, calls=calls),
    )
    trips = [RoundTrips({"s3 GetObject": 2, "face-fusion API": 1}, rounds=2)]
    return Measured(
        startups=[Startup(wall_ms=300 * scale, import_ms=100, init_ms=150)],
        first_pairs=[handled],
        warm=[handled],
        slow_api=[slow],
        network=[handled],
        heavy=[handled],
        round_trips=trips,
        network_round_trips=trips,
        throughput=run,
        modelled_throughput=run,
    )


def test_the_table_starts_with_the_targets_figures_in_their_order() -> None:
    rows = figures({"ours": measured(0.5), "baseline": measured(1.0)}, FULL)
    top_level = [row for row in rows if not row.name.startswith(" ")]
    assert tuple(row.target for row in top_level[: len(TARGETS)]) == TARGETS
    assert top_level[0].name.startswith("steady-state throughput")
    # 100 pairs at 4 calls of 1 s at once: 25 s of calls; ours took 15 s of it, the baseline 30
    assert (top_level[1].ours, top_level[1].baseline) == (15 / 25, 30 / 25)
    assert top_level[3].name.startswith("cold start: new process to first result")
    # the first result is start-up plus the first pair: 150 + 50 ms against 300 + 100 ms
    assert (top_level[3].ours, top_level[3].baseline) == (200.0, 400.0)
    ready = next(row for row in rows if row.name == "  new process to handler ready")
    assert ready.target == "" and ready.limit is None  # no longer the cold start figure
    assert top_level[5].name.startswith("sequential rounds per warm pair")
    assert (top_level[5].ours, top_level[5].baseline) == (2, 2)
    requests = next(r for r in top_level if r.name.startswith("round trips per warm pair"))
    assert (requests.ours, requests.baseline) == (3, 3)
    throughput = next(r for r in top_level if r.name.startswith("throughput, 100 pairs"))
    assert throughput.percent_of == 4.0
    assert rows[-1].name.startswith("429s the pipeline causes itself")
    assert rows[-1].limit == 0


def test_the_steady_state_is_the_slots_share_from_all_busy_to_the_queue_running_dry() -> None:
    # Two slots: both busy from 0.5 s; slot 2 idles 0.5 s at 2 s; the queue runs dry at 4 s.
    calls = [
        LoggedCall(0.0, 2.0, 200),
        LoggedCall(2.0, 5.0, 200),
        LoggedCall(0.5, 2.0, 200),
        LoggedCall(2.5, 5.0, 200),
        LoggedCall(3.0, 3.0, 429),  # refused by the cap: not a slot's work
    ]
    run = SlotRun(cap=2, started=0.0, last_result=5.0, calls=calls, queue_last_seen_waiting=4.0)
    assert steady_share(run) == (3.5 + 3.0) / (2 * 3.5)
    assert math.isnan(steady_share(SlotRun(cap=2, started=0.0, last_result=5.0, calls=calls)))
    one_slot = SlotRun(2, 0.0, 5.0, calls[:2], queue_last_seen_waiting=4.0)
    assert math.isnan(steady_share(one_slot))  # the slots never all got busy
