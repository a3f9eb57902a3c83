"""The API's call slots over a throughput run: which slot was busy when, and the idle gaps.

The emulator logs every call's arrival and answer. Calls the cap admitted are laid out on
`cap` lanes (a call takes the first lane free when it arrives: at most `cap` are ever in
flight, so that many lanes always suffice); the gaps between a lane's consecutive calls
and the tail after the first lane goes idle for good are what separate the throughput from
the cap's.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

from PIL import Image, ImageDraw, ImageFont

from benchmarks.percentiles import median, p95
from local_stack.emulator.ledger import LoggedCall


@dataclass(frozen=True)
class SlotRun:
    """One throughput run as the API saw it (times are `time.monotonic()`)."""

    cap: int
    started: float
    """When the measured part began (the first second half uploaded)."""
    last_result: float
    """When the last result document was written."""
    calls: list[LoggedCall] = field(default_factory=list)
    queue_last_seen_waiting: float | None = None
    """The last time messages were seen waiting in the queue (None: never seen)."""

    @property
    def admitted(self) -> list[LoggedCall]:
        """The calls the cap let through (the others were answered 429 at once)."""
        return [c for c in self.calls if c.status != HTTPStatus.TOO_MANY_REQUESTS]


@dataclass(frozen=True)
class SlotStats:
    """What the lanes show, in ms: the idle gaps between a slot's calls, and the tail."""

    calls: int
    median_gap_ms: float
    p95_gap_ms: float
    tail_ms: float
    """From the first slot going idle for good to the last result."""


def lanes(calls: list[LoggedCall], cap: int) -> list[list[LoggedCall]]:
    """The calls on `cap` lanes (more if more were ever in flight at once), by arrival."""
    laid: list[list[LoggedCall]] = [[] for _ in range(cap)]
    for call in sorted(calls, key=lambda c: c.start):
        free = next((lane for lane in laid if not lane or lane[-1].end <= call.start), None)
        if free is None:
            free = []
            laid.append(free)
        free.append(call)
    return laid


def gaps_ms(lane: list[LoggedCall]) -> list[float]:
    """The idle time between each two consecutive calls of one lane."""
    return [1000 * (after.start - before.end) for before, after in itertools.pairwise(lane)]


def slot_stats(run: SlotRun) -> SlotStats:
    """The gap and tail statistics of one run."""
    laid = lanes(run.admitted, run.cap)
    gaps = [gap for lane in laid for gap in gaps_ms(lane)]
    # A lane that never got a call was idle for good from the start.
    idle_for_good = min((lane[-1].end if lane else run.started) for lane in laid)
    return SlotStats(
        calls=len(run.admitted),
        median_gap_ms=median(gaps),
        p95_gap_ms=p95(gaps),
        tail_ms=1000 * (run.last_result - idle_for_good),
    )


def mean_call_s(run: SlotRun) -> float:
    """How long a call took at the API, on average (NaN without calls)."""
    calls = run.admitted
    return sum(c.end - c.start for c in calls) / len(calls) if calls else math.nan


def ideal_s(run: SlotRun) -> float:
    """The shortest a run of its calls could take: every slot busy from the first upload to
    the last answer (the calls' time at the API over the cap)."""
    return sum(c.end - c.start for c in run.admitted) / run.cap


def steady_share(run: SlotRun) -> float:
    """The share of the cap busy with calls while the queue never ran dry: from the moment
    every slot had started its first call to the last time messages were seen waiting (NaN
    when the slots never all got busy before the queue ran dry)."""
    laid = lanes(run.admitted, run.cap)
    if any(not lane for lane in laid) or run.queue_last_seen_waiting is None:
        return math.nan
    start = max(lane[0].start for lane in laid)
    end = run.queue_last_seen_waiting
    if end <= start:
        return math.nan
    busy = sum(max(0.0, min(c.end, end) - max(c.start, start)) for c in run.admitted)
    return busy / (run.cap * (end - start))


def stats_table(per_handler: dict[str, list[SlotStats]]) -> str:
    """The slot statistics of each handler: the repetitions' medians."""
    picks: dict[str, Callable[[SlotStats], float]] = {
        "calls admitted": lambda s: float(s.calls),
        "idle gap between a slot's calls, median (ms)": lambda s: s.median_gap_ms,
        "idle gap between a slot's calls, p95 (ms)": lambda s: s.p95_gap_ms,
        "tail: first slot idle for good to last result (ms)": lambda s: s.tail_ms,
    }
    names = list(per_handler)
    lines = [
        f"{'API slots, throughput runs (median of reps)':52}" + "".join(f"{n:>10}" for n in names)
    ]
    for label, pick in picks.items():
        values = [median([pick(stats) for stats in per_handler[n]]) for n in names]
        lines.append(f"{label:52}" + "".join(f"{v:10.0f}" for v in values))
    return "\n".join(lines)


# -- the plot ---------------------------------------------------------------------------
_WIDTH, _LEFT, _RIGHT, _LANE, _HEAD, _FOOT = 2000, 110, 30, 22, 56, 40
_BAR, _REFUSED, _INK, _GRID = (46, 110, 190), (200, 40, 40), (30, 30, 30), (225, 225, 225)


def draw(runs: dict[str, SlotRun]) -> Image.Image:
    """One panel per handler, one lane per slot, each call a bar; time from the measured
    start on x, on the same scale for every panel."""
    laid = {name: lanes(run.admitted, run.cap) for name, run in runs.items()}
    span = max((run.last_result - run.started for run in runs.values()), default=1.0) or 1.0
    panel = {name: _HEAD + _LANE * len(lanes_) + _FOOT for name, lanes_ in laid.items()}
    img = Image.new("RGB", (_WIDTH, 20 + sum(panel.values())), "white")
    draw_ = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=14)
    scale = (_WIDTH - _LEFT - _RIGHT) / span
    top = 10
    for name, run in runs.items():
        stats = slot_stats(run)
        draw_.text(
            (10, top),
            f"{name}: {stats.calls} calls on {run.cap} slots; idle gap between a slot's calls "
            f"median {stats.median_gap_ms:.0f} ms, p95 {stats.p95_gap_ms:.0f} ms; "
            f"tail {stats.tail_ms:.0f} ms",
            fill=_INK,
            font=font,
        )
        lanes_top = top + _HEAD - 24
        for second in range(int(span) + 1):
            x = _LEFT + round(second * scale)
            bottom = lanes_top + _LANE * len(laid[name])
            draw_.line((x, lanes_top, x, bottom), fill=_GRID)
            draw_.text((x - 4, bottom + 4), f"{second}", fill=_INK, font=font)
        for index, lane in enumerate(laid[name]):
            y = lanes_top + index * _LANE
            draw_.text((10, y + 3), f"slot {index + 1}", fill=_INK, font=font)
            for call in lane:
                left = _LEFT + round((call.start - run.started) * scale)
                right = max(left + 1, _LEFT + round((call.end - run.started) * scale) - 1)
                draw_.rectangle((left, y + 3, right, y + _LANE - 3), fill=_BAR)
        for call in run.calls:
            if call.status == HTTPStatus.TOO_MANY_REQUESTS:
                x = _LEFT + round((call.start - run.started) * scale)
                draw_.line((x, lanes_top - 6, x, lanes_top - 1), fill=_REFUSED, width=2)
        end = _LEFT + round((run.last_result - run.started) * scale)
        draw_.line((end, lanes_top - 8, end, lanes_top + _LANE * len(laid[name])), fill=_REFUSED)
        top += panel[name]
    draw_.text(
        (10, img.height - 20),
        "x: seconds from the first second half uploaded. Bars: API calls in flight (blue); "
        "red line: the last result; red ticks: calls refused by the cap (429).",
        fill=_INK,
        font=font,
    )
    return img
