"""What each feature costs a warm pair: CPU time and requests with one feature off at a time.

    python -m benchmarks.bench --by-feature

The CPU target holds ours to a multiple of the naive baseline's, which makes a third of the
requests and has none of the features; this measures where ours' CPU goes, feature by feature,
and the floor it reaches with all of them off. Each variant is its own handler process, and
the variants take turns pair by pair, so a drift in the machine's load is shared by all.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

from benchmarks import round_trips
from benchmarks.percentiles import median
from benchmarks.runner import merge_one
from benchmarks.sandbox import Sandbox
from benchmarks.workload import HANDLERS, Bench, portrait_pair

# What switches each feature off; "all off" switches every one of them.
FEATURES: dict[str, dict[str, str]] = {
    "the daily call budget": {"DAILY_CALL_BUDGET": "0"},
    "re-use of identical results": {"REUSE_IDENTICAL_RESULTS": "false"},
    "completion events": {"EVENT_BUS_NAME": ""},
    "pulling the queue's next message": {"PULL_FROM_QUEUE": "false"},
    "tracing": {"POWERTOOLS_TRACE_DISABLED": "true"},
}


@dataclass
class Variant:
    """One handler configuration and what its warm pairs cost."""

    label: str
    handler: str
    env: dict[str, str]
    cpu_ms: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)


def variants(bench: Bench) -> list[Variant]:
    """Ours with everything on, with each feature off in turn, with all off; the baseline."""
    off_all = {name: value for env in FEATURES.values() for name, value in env.items()}
    ours = HANDLERS["ours"]
    return [
        Variant("ours, every feature on", ours, bench.env),
        *(
            Variant(f"  without {name}", ours, {**bench.env, **env})
            for name, env in FEATURES.items()
        ),
        Variant("  without any of them", ours, {**bench.env, **off_all}),
        Variant("naive baseline", HANDLERS["baseline"], bench.env),
    ]


def measure(bench: Bench, pairs: int, progress: Callable[[str], None]) -> list[Variant]:
    """`pairs` warm pairs per variant, after a few unmeasured ones, variants taking turns."""
    pair = portrait_pair(1024)
    measured = variants(bench)
    progress(f"CPU by feature: {len(measured)} handler processes, {pairs} warm pairs each")
    with ExitStack() as stack:
        boxes = [stack.enter_context(Sandbox(v.handler, v.env, bench.log_file)) for v in measured]
        stack.enter_context(bench.recording_requests())
        for index in range(3 + pairs):
            for variant, box in zip(measured, boxes, strict=True):
                name = "baseline" if variant.handler == HANDLERS["baseline"] else "ours"
                handled, _ = merge_one(bench, box, name, pair)
                if index >= 3:
                    variant.cpu_ms.append(handled.cpu_ms)
                    trips = round_trips.within(
                        bench.requests.entries(), [], handled.start, handled.end
                    )
                    variant.requests.append(trips.requests)
    return measured


def table(measured: list[Variant]) -> str:
    """CPU per warm pair and AWS requests (the API call aside) for each variant."""
    full = median(measured[0].cpu_ms)
    lines = [f"{'warm pair (median)':44} {'CPU ms':>8} {'saves':>7} {'AWS requests':>13}"]
    for variant in measured:
        cpu = median(variant.cpu_ms)
        ours_variant = variant is not measured[0] and variant is not measured[-1]
        saves = f"{full - cpu:7.1f}" if ours_variant else ""
        lines.append(f"{variant.label:44} {cpu:8.1f} {saves:>7} {median(variant.requests):13.0f}")
    return "\n".join(lines)
