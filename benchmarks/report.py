"""The benchmark's figures against the performance targets: the rows, the table and the JSON.

The first rows are the targets' figures, in the targets' order; the rows indented under a
figure explain it and carry no target.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.chart import chart
from benchmarks.figure import Figure, number
from benchmarks.percentiles import median, p95
from benchmarks.round_trips import RoundTrips, typical
from benchmarks.runner import Measured, Plan
from benchmarks.throughput import Throughput
from benchmarks.timeline import (
    SlotRun,
    SlotStats,
    ideal_s,
    mean_call_s,
    slot_stats,
    steady_share,
)
from benchmarks.workload import HANDLERS

MEMORY_LIMIT_MB = 512
# Multiples of --max-spread. The overhead beside a slow API is a few % of a 2 s call: a few
# ms of scheduling jitter on the call moves it by a tenth of itself, so it gets twice the
# bound; the other checked figures are medians of many samples or counts.
_CHECKED = 1.0
_SMALL_DIFFERENCE = 2.0
# A p95 of gaps of tens of ms: one scheduling hiccup of the machine's moves it by half.
_NOISY = 3.0


def figures(measured: dict[str, Measured], plan: Plan) -> list[Figure]:
    """The table's rows from one repetition of both handlers' measurements."""
    ours, base = measured["ours"], measured["baseline"]

    def both(pick: Callable[[Measured], float]) -> tuple[float, float]:
        return pick(ours), pick(base)

    def flow(pick: Callable[[Throughput], float]) -> tuple[float, float]:
        return both(lambda m: pick(_throughput(m)))

    def slots(pick: Callable[[SlotStats], float]) -> tuple[float, float]:
        return flow(lambda t: pick(slot_stats(t.slots)))

    def trips(pick: Callable[[RoundTrips], float]) -> tuple[float, float]:
        return both(lambda m: median([pick(r) for r in m.round_trips]))

    first_result = both(
        lambda m: median(
            [s.wall_ms + h.wall_ms for s, h in zip(m.startups, m.first_pairs, strict=True)]
        )
    )
    network = both(lambda m: median([h.wall_ms for h in m.network]))
    cpu = both(lambda m: median([h.cpu_ms for h in m.warm]))
    over = both(lambda m: 100 * (median([h.wall_ms for h in m.slow_api]) / plan.slow_api_ms - 1))
    rss = both(lambda m: max((h.peak_rss_mb for h in m.heavy), default=math.nan))
    cap = _throughput(ours).cap_pairs_per_second
    api = f"{plan.slow_api_ms / 1000:g} s"
    burst = f"{plan.throughput_pairs} pairs, cap {plan.cap} x {plan.call_ms / 1000:g} s"
    return [
        Figure(
            f"steady-state throughput: the cap's share busy while the queue never ran dry "
            f"({burst})",
            "%",
            *flow(lambda t: 100 * steady_share(t.slots)),
            ">= 98%",
            98.0,
            at_least=True,
            chart="steady-state throughput (% of the cap)",
            spread_allowance=_CHECKED,
        ),
        Figure(
            f"burst of {burst}: first upload to last result, over the ideal "
            "(its calls' time at the API / the cap)",
            "x",
            *flow(lambda t: t.seconds / ideal_s(t.slots)),
            "<= 1.06x ideal",
            1.06,
            chart="burst: time over the ideal",
            spread_allowance=_CHECKED,
        ),
        Figure(
            "  a call's time at the API (the emulator's latency and its own work)",
            "ms",
            *flow(lambda t: 1000 * mean_call_s(t.slots)),
        ),
        Figure(
            "idle gap between a slot's calls, p95 (throughput runs)",
            "ms",
            *slots(lambda s: s.p95_gap_ms),
            "<= 60 ms",
            60.0,
            chart="slot gaps, p95",
            spread_allowance=_NOISY,
        ),
        Figure("  median", "ms", *slots(lambda s: s.median_gap_ms)),
        Figure(
            "  tail: first slot idle for good to last result", "ms", *slots(lambda s: s.tail_ms)
        ),
        Figure(
            f"cold start: new process to first result, Tracer built (median of {plan.cold_runs})",
            "ms",
            *first_result,
            "<= 1.1x",
            1.1 * first_result[1],
            chart="cold start (new process to first result)",
            spread_allowance=_CHECKED,
        ),
        Figure(
            "  new process to handler ready",
            "ms",
            *both(lambda m: median([s.wall_ms for s in m.startups])),
        ),
        Figure(
            "    of which handler import + first (no-op) invocation",
            "ms",
            *both(lambda m: median([s.init_ms for s in m.startups])),
        ),
        Figure(
            "  then the first pair (what was deferred is paid here)",
            "ms",
            *both(lambda m: median([h.wall_ms for h in m.first_pairs])),
        ),
        Figure(
            f"warm pair, +{plan.aws_rtt_ms} ms AWS / +{plan.api_rtt_ms} ms API round trips "
            f"(model; median of {plan.network_pairs})",
            "ms",
            *network,
            "<= 1.0x",
            network[1],
            chart="warm pair with network round trips",
            spread_allowance=_CHECKED,
        ),
        Figure(
            "sequential rounds per warm pair, as the handler sees them (model)",
            "",
            *both(lambda m: median([r.rounds for r in m.network_round_trips])),
            "<= 7",
            7.0,
            spread_allowance=_CHECKED,
        ),
        Figure(
            f"CPU time per warm pair (median of {plan.warm_pairs})",
            "ms",
            *cpu,
            "<= 1.5x",
            1.5 * cpu[1],
            chart="CPU time per warm pair",
            spread_allowance=_CHECKED,
        ),
        Figure(
            f"pair beside a {api} API call: wall time over the API's "
            f"(median of {plan.slow_api_pairs})",
            "%",
            *over,
            "<= 3%",
            3.0,
            chart=f"overhead beside a {api} API call",
            spread_allowance=_SMALL_DIFFERENCE,
        ),
        Figure(
            f"throughput, {burst} (= {cap:g} pairs/s; % of the cap)",
            "pairs/s",
            *flow(lambda t: t.pairs_per_second),
            percent_of=cap,
        ),
        Figure(
            "  API slots busy while every worker had work",
            "%",
            *flow(lambda t: 100 * t.busy_share_of_cap),
        ),
        Figure(
            f"  throughput with +{plan.aws_rtt_ms} ms AWS / +{plan.api_rtt_ms} ms API round "
            "trips (model; % of the cap)",
            "pairs/s",
            *both(lambda m: _modelled(m).pairs_per_second),
            percent_of=cap,
        ),
        Figure(
            "    API slots busy while every worker had work, with those round trips",
            "%",
            *both(lambda m: 100 * _modelled(m).busy_share_of_cap),
        ),
        Figure(
            f"  API answering at once, no added round trips (median of {plan.warm_pairs})",
            "ms",
            *both(lambda m: median([h.wall_ms for h in m.warm])),
        ),
        Figure("  p95 of those", "ms", *both(lambda m: p95([h.wall_ms for h in m.warm]))),
        Figure(
            "round trips per warm pair: requests to AWS and the API",
            "",
            *trips(lambda r: r.requests),
            spread_allowance=_CHECKED,
        ),
        Figure("  of which calls to the API", "", *trips(lambda r: r.api_requests)),
        Figure(
            "  sequential rounds (requests whose times overlap at the servers count once)",
            "",
            *trips(lambda r: r.rounds),
        ),
        Figure(
            f"peak RSS: {plan.heavy_label}",
            "MB",
            *rss,
            f"<= 0.8x, <= {MEMORY_LIMIT_MB} MB",
            min(0.8 * rss[1], MEMORY_LIMIT_MB),
            chart="peak RSS, two 4 MB inputs",
            spread_allowance=_CHECKED,
        ),
        Figure(
            "  that pair, warm: wall time",
            "ms",
            *both(lambda m: median([h.wall_ms for h in m.heavy])),
        ),
        Figure(
            "  that pair, warm: CPU time",
            "ms",
            *both(lambda m: median([h.cpu_ms for h in m.heavy])),
        ),
        Figure(
            "lost pairs (throughput runs, worst repetition)",
            "",
            *flow(lambda t: t.lost),
            "0",
            0,
            worst_of_reps=True,
        ),
        Figure(
            "duplicate calls (throughput runs, worst repetition)",
            "",
            *flow(lambda t: t.duplicate_calls),
            "0",
            0,
            worst_of_reps=True,
        ),
        Figure(
            "429s the pipeline causes itself (throughput runs, worst repetition)",
            "",
            *flow(lambda t: t.rate_limited_calls),
            "0",
            0,
            worst_of_reps=True,
        ),
    ]


def _throughput(measured: Measured) -> Throughput:
    assert measured.throughput is not None
    return measured.throughput


def _modelled(measured: Measured) -> Throughput:
    assert measured.modelled_throughput is not None
    return measured.modelled_throughput


def _cell(value: float, percent_of: float | None) -> str:
    if percent_of is None or math.isnan(value):
        return number(value)
    return f"{number(value)} ({100 * value / percent_of:.1f}%)"


def _spread_cell(value: float, reps: tuple[float, ...]) -> str:
    if len(reps) < 2 or math.isnan(value):
        return ""
    return "inf" if math.isinf(value) else f"{value:.0f}%"


def table(rows: list[Figure]) -> str:
    """The figures as a fixed-width text table: repetitions' medians and their spreads."""
    head = (
        "figure",
        "unit",
        "ours",
        "spread",
        "baseline",
        "spread",
        "ours/base",
        "spread",
        "target",
        "met",
    )
    lines = [head]
    for row in rows:
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        met = {None: "", True: "yes", False: "NO"}[row.met]
        lines.append(
            (
                row.name,
                row.unit,
                _cell(row.ours, row.percent_of),
                _spread_cell(row.ours_spread, row.ours_reps),
                _cell(row.baseline, row.percent_of),
                _spread_cell(row.baseline_spread, row.baseline_reps),
                ratio,
                _spread_cell(row.ratio_spread, row.ours_reps if row.ratio is not None else ()),
                row.target,
                met,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    left_aligned = (0, 1, 8)
    rendered = [
        "  ".join(
            cell.ljust(width) if i in left_aligned else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    ]
    rendered.insert(1, "-" * len(rendered[0]))
    return "\n".join(rendered)


def imports_table(imports_ms: dict[str, dict[str, float]], top: int = 12) -> str:
    """Import time by top-level package, both handlers side by side."""
    ours, base = imports_ms["ours"], imports_ms["baseline"]
    names = sorted(set(ours) | set(base), key=lambda n: -max(ours.get(n, 0), base.get(n, 0)))
    lines = [f"{'package':24} {'ours ms':>9} {'baseline ms':>12}"]
    lines += [
        f"{name:24} {ours.get(name, 0):9.1f} {base.get(name, 0):12.1f}" for name in names[:top]
    ]
    lines.append(f"{'total':24} {sum(ours.values()):9.1f} {sum(base.values()):12.1f}")
    if any(ms < 0 for ms in [*ours.values(), *base.values()]):
        lines.append(
            "(a negative time: modules imported in two threads at once, which -X importtime's "
            "self times do not account for)"
        )
    return "\n".join(lines)


def stages_line(repetitions: list[dict[str, Measured]], name: str) -> str:
    """A handler's per-stage medians over every repetition, from its result documents."""
    stages: dict[str, list[float]] = {}
    for measured in repetitions:
        for stage, values in measured[name].stages_ms.items():
            stages.setdefault(stage, []).extend(float(v) for v in values)
    return ", ".join(f"{stage} {median(ms):.0f}" for stage, ms in stages.items())


@dataclass(frozen=True)
class Extras:
    """What the JSON carries beside the figures: the run's settings and its other findings."""

    max_spread: float
    quick: bool
    noisy: list[dict[str, Any]]
    imports_ms: dict[str, dict[str, float]]
    profile: dict[str, Any]


def median_repetition(repetitions: list[dict[str, Measured]]) -> dict[str, Measured]:
    """The repetition in which ours had its median throughput: the one the timeline shows."""
    ranked = sorted(repetitions, key=lambda m: _throughput(m["ours"]).pairs_per_second)
    return ranked[len(ranked) // 2]


def slot_runs(measured: dict[str, Measured]) -> dict[str, SlotRun]:
    """Each handler's throughput run of one repetition, ours first."""
    return {name: _throughput(measured[name]).slots for name in HANDLERS}


def slots_by_handler(repetitions: list[dict[str, Measured]]) -> dict[str, list[SlotStats]]:
    """Each handler's slot statistics, one per repetition."""
    return {
        name: [slot_stats(_throughput(measured[name]).slots) for measured in repetitions]
        for name in HANDLERS
    }


def round_trips_by_handler(repetitions: list[dict[str, Measured]]) -> dict[str, RoundTrips]:
    """Each handler's typical warm pair, over every repetition."""
    return {
        name: typical([trip for measured in repetitions for trip in measured[name].round_trips])
        for name in HANDLERS
    }


def document(
    repetitions: list[dict[str, Measured]], plan: Plan, rows: list[Figure], extras: Extras
) -> dict[str, Any]:
    """Everything as JSON: the figures with every repetition's value and spread, the raw
    samples of each repetition, the slot and round-trip findings, the plan and the machine."""
    plan_fields = {k: v for k, v in asdict(plan).items() if not callable(v)}
    trips = round_trips_by_handler(repetitions)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "plan": plan_fields,
        "quick": extras.quick,
        "max_spread_percent": extras.max_spread,
        "too_noisy": extras.noisy,
        "figures": [
            {
                **asdict(row),
                "ratio": row.ratio,
                "met": row.met,
                "ours_spread_percent": row.ours_spread,
                "baseline_spread_percent": row.baseline_spread,
                "ratio_spread_percent": row.ratio_spread,
            }
            for row in rows
        ],
        "slots": {
            name: [asdict(stats) for stats in per_rep]
            for name, per_rep in slots_by_handler(repetitions).items()
        },
        "round_trips": {
            name: {**asdict(trip), "requests": trip.requests} for name, trip in trips.items()
        },
        "imports_ms": extras.imports_ms,
        "profile": extras.profile,
        "repetitions": [
            {name: _raw(m) for name, m in measured.items()} for measured in repetitions
        ],
    }


def _raw(measured: Measured) -> dict[str, Any]:
    """A repetition's samples; of the call log, only its summary (in "slots")."""
    raw = asdict(measured)
    for run in ("throughput", "modelled_throughput"):
        if raw.get(run):
            raw[run]["slots"].pop("calls", None)
    return raw


def write(
    out: Path,
    repetitions: list[dict[str, Measured]],
    plan: Plan,
    rows: list[Figure],
    extras: Extras,
) -> None:
    """Write `bench.json` and `bench.png` into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    payload = document(repetitions, plan, rows, extras)
    (out / "bench.json").write_text(json.dumps(_finite(payload), indent=2) + "\n")
    chart(rows).save(out / "bench.png", optimize=True)


def _finite(value: Any) -> Any:
    """`value` with NaN and infinity (a figure without samples, a spread around 0) as null:
    JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
