"""The benchmark's figures against the performance targets: a table, JSON and a PNG chart.

The chart is drawn with Pillow (a dependency already) rather than matplotlib (which is not).
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from benchmarks.runner import Measured, Plan
from benchmarks.throughput import Throughput

MEMORY_LIMIT_MB = 512


@dataclass(frozen=True)
class Figure:
    """One row of the table: both handlers' values, and the performance target if there is one.

    `limit` is the target in the figure's own unit (what ours must stay at or under, or at
    or over with `at_least`), for the check and the chart, which shows rows with a `chart`
    title.
    """

    name: str
    unit: str
    ours: float
    baseline: float
    target: str = ""
    limit: float | None = None
    at_least: bool = False
    chart: str = ""

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


def median(values: list[float]) -> float:
    """The median, or NaN for no values."""
    return statistics.median(values) if values else math.nan


def p95(values: list[float]) -> float:
    """The 95th percentile by nearest rank."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def figures(measured: dict[str, Measured], plan: Plan) -> list[Figure]:
    """The table's rows, from both handlers' measurements."""
    ours, base = measured["ours"], measured["baseline"]

    def both(pick: Callable[[Measured], float]) -> tuple[float, float]:
        return pick(ours), pick(base)

    def flow(pick: Callable[[Throughput], float]) -> tuple[float, float]:
        return both(lambda m: pick(_throughput(m)))

    cold = both(lambda m: median([s.wall_ms for s in m.startups]))
    warm = both(lambda m: median([h.wall_ms for h in m.warm]))
    over = both(lambda m: 100 * (median([h.wall_ms for h in m.slow_api]) / plan.slow_api_ms - 1))
    rss = both(lambda m: max((h.peak_rss_mb for h in m.heavy), default=math.nan))
    cap = _throughput(ours).cap_pairs_per_second
    api = f"{plan.slow_api_ms / 1000:g} s"
    return [
        Figure(
            f"cold start: new process to handler ready (median of {plan.cold_runs})",
            "ms",
            *cold,
            "<= 1.0x",
            cold[1],
            chart="cold start (new process to handler ready)",
        ),
        Figure(
            "  of which handler import + first (no-op) invocation",
            "ms",
            *both(lambda m: median([s.init_ms for s in m.startups])),
        ),
        Figure(
            "  then the first pair (what was deferred is paid here)",
            "ms",
            *both(lambda m: median([h.wall_ms for h in m.first_pairs])),
        ),
        Figure(
            "  new process to first result",
            "ms",
            *both(
                lambda m: median(
                    [s.wall_ms + h.wall_ms for s, h in zip(m.startups, m.first_pairs, strict=True)]
                )
            ),
        ),
        Figure(
            f"warm pair, API answering at once: median of {plan.warm_pairs}",
            "ms",
            *warm,
            "<= 0.7x",
            0.7 * warm[1],
            chart="warm pair, API at once (median)",
        ),
        Figure("  p95", "ms", *both(lambda m: p95([h.wall_ms for h in m.warm]))),
        Figure(
            f"  with round trips of +{plan.aws_rtt_ms} ms to AWS, +{plan.api_rtt_ms} ms to the "
            f"API (model; median of {plan.network_pairs})",
            "ms",
            *both(lambda m: median([h.wall_ms for h in m.network])),
        ),
        Figure("  CPU time (median)", "ms", *both(lambda m: median([h.cpu_ms for h in m.warm]))),
        Figure(
            f"pair beside a {api} API: wall time over the API's (median of {plan.slow_api_pairs})",
            "%",
            *over,
            "<= 2%",
            2.0,
            chart=f"overhead beside a {api} API",
        ),
        Figure(
            f"peak RSS: {plan.heavy_label}",
            "MB",
            *rss,
            f"<= 0.8x, <= {MEMORY_LIMIT_MB} MB",
            min(0.8 * rss[1], MEMORY_LIMIT_MB),
            chart="peak RSS, two 4 MB inputs",
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
            f"throughput, {plan.throughput_pairs} pairs, cap {plan.cap} calls x "
            f"{plan.call_ms / 1000:g} s = {cap:g} pairs/s",
            "pairs/s",
            *flow(lambda t: t.pairs_per_second),
            ">= 95% of cap",
            0.95 * cap,
            at_least=True,
            chart="throughput, end to end",
        ),
        Figure(
            "  API call slots in use while every worker had work",
            "%",
            *flow(lambda t: 100 * t.busy_share_of_cap),
            ">= 95%",
            95.0,
            at_least=True,
            chart="API slots busy while all workers had work",
        ),
        Figure("  lost pairs", "", *flow(lambda t: t.lost), "0", 0),
        Figure("  duplicate calls", "", *flow(lambda t: t.duplicate_calls), "0", 0),
        Figure("  calls refused by the cap (429)", "", *flow(lambda t: t.rate_limited_calls)),
    ]


def _throughput(measured: Measured) -> Throughput:
    assert measured.throughput is not None
    return measured.throughput


def _number(value: float) -> str:
    if math.isnan(value):
        return "-"
    if value == int(value):
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def table(rows: list[Figure]) -> str:
    """The figures as a fixed-width text table."""
    head = ("figure", "unit", "ours", "baseline", "ours/base", "target", "met")
    lines = [head]
    for row in rows:
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        met = {None: "", True: "yes", False: "NO"}[row.met]
        lines.append(
            (row.name, row.unit, _number(row.ours), _number(row.baseline), ratio, row.target, met)
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    rendered = [
        "  ".join(
            cell.ljust(width) if i in (0, 1, 5) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    ]
    rendered.insert(1, "-" * len(rendered[0]))
    return "\n".join(rendered)


def imports_table(measured: dict[str, Measured], top: int = 12) -> str:
    """Import time by top-level package, both handlers side by side."""
    ours, base = measured["ours"].imports_ms, measured["baseline"].imports_ms
    names = sorted(set(ours) | set(base), key=lambda n: -max(ours.get(n, 0), base.get(n, 0)))
    lines = [f"{'package':24} {'ours ms':>9} {'baseline ms':>12}"]
    lines += [
        f"{name:24} {ours.get(name, 0):9.1f} {base.get(name, 0):12.1f}" for name in names[:top]
    ]
    lines.append(f"{'total':24} {sum(ours.values()):9.1f} {sum(base.values()):12.1f}")
    return "\n".join(lines)


def stages_line(measured: Measured) -> str:
    """Ours' per-stage medians, from its result documents."""
    stages = {
        stage: median([float(v) for v in values]) for stage, values in measured.stages_ms.items()
    }
    return ", ".join(f"{stage} {ms:.0f}" for stage, ms in stages.items())


def document(measured: dict[str, Measured], plan: Plan, rows: list[Figure]) -> dict[str, Any]:
    """Everything as JSON: the figures, the raw samples, the plan and the machine."""
    plan_fields = {k: v for k, v in asdict(plan).items() if not callable(v)}
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "plan": plan_fields,
        "figures": [{**asdict(row), "ratio": row.ratio, "met": row.met} for row in rows],
        "handlers": {name: asdict(m) for name, m in measured.items()},
    }


def write(out: Path, measured: dict[str, Measured], plan: Plan, rows: list[Figure]) -> None:
    """Write `bench.json` and `bench.png` into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    payload = document(measured, plan, rows)
    (out / "bench.json").write_text(json.dumps(_finite(payload), indent=2) + "\n")
    chart(rows).save(out / "bench.png", optimize=True)


def _finite(value: Any) -> Any:
    """`value` with NaN (a figure without samples) as null: JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


# -- the chart --------------------------------------------------------------------------
_WIDTH, _LEFT, _RIGHT, _ROW, _TOP = 1100, 380, 170, 70, 70
_OURS, _BASE, _MARK, _INK = (46, 110, 190), (170, 170, 170), (200, 40, 40), (30, 30, 30)


def chart(rows: list[Figure]) -> Image.Image:
    """Paired bars for each charted figure: ours (blue), the baseline (grey), the target (red)."""
    shown = [row for row in rows if row.chart and row.limit is not None]
    height = _TOP + _ROW * len(shown) + 30
    img = Image.new("RGB", (_WIDTH, height), "white")
    draw = ImageDraw.Draw(img)
    font, title = ImageFont.load_default(size=15), ImageFont.load_default(size=20)
    heading = "Portrait Fusion vs the naive baseline (performance targets)"
    draw.text((20, 18), heading, fill=_INK, font=title)
    span = _WIDTH - _LEFT - _RIGHT
    for index, row in enumerate(shown):
        top = _TOP + index * _ROW
        limit = row.limit if row.limit is not None else 0.0
        scale = span / max(row.ours, row.baseline, limit, 1e-9)
        draw.text((20, top + 2), row.chart, fill=_INK, font=font)
        verdict = "met" if row.met else "not met"
        draw.text((20, top + 24), f"target {row.target}: {verdict}", fill=_MARK, font=font)
        bars = [
            (
                top + offset,
                _LEFT + max(1, round(value * scale)),
                f"{who} {_number(value)} {row.unit}",
            )
            for offset, value, who in ((0, row.ours, "ours"), (24, row.baseline, "baseline"))
        ]
        for (y, right, _), colour in zip(bars, (_OURS, _BASE), strict=True):
            draw.rectangle((_LEFT, y, right, y + 18), fill=colour)
        mark = _LEFT + round(limit * scale)
        draw.line((mark, top - 4, mark, top + 46), fill=_MARK, width=3)
        for y, right, label in bars:
            draw.rectangle(draw.textbbox((right + 6, y), label, font=font), fill="white")
            draw.text((right + 6, y), label, fill=_INK, font=font)
    draw.text(
        (20, height - 26),
        "Red line: the target for ours, in the figure's unit. Lower is better, except for the "
        "two throughput rows.",
        fill=_INK,
        font=font,
    )
    return img
