"""The measurements behind the performance targets, for both handlers in one run, interleaved.

Interleaving (ours, baseline, ours, ...) spreads whatever else the machine is doing over
both handlers alike. Every measured pair is checked: a handler that failed to merge it
stops the benchmark instead of producing a flattering number. `run` takes one repetition
of everything; the bench runs it `--reps` times (see `repetitions`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from benchmarks import round_trips, throughput
from benchmarks.latency import DelayProxy
from benchmarks.round_trips import RoundTrips
from benchmarks.sandbox import Handled, Sandbox, Startup, import_breakdown
from benchmarks.throughput import Throughput
from benchmarks.workload import HANDLERS, Bench, Pair, heavy_pair, new_pair_id, portrait_pair
from local_stack.emulator import Faults


@dataclass(frozen=True)
class Plan:
    """How much of each measurement to take, per repetition (the profile: once)."""

    cold_runs: int
    warm_pairs: int
    slow_api_pairs: int
    rss_runs: int
    heavy_label: str
    heavy: Callable[[], Pair]
    throughput_pairs: int
    cap: int
    call_ms: int
    network_pairs: int
    profile_pairs: int
    reps: int
    warmup_pairs: int = 3
    pair_side: int = 1024
    slow_api_ms: int = 2000
    # The network model: what a round trip adds, to AWS in the region and to the API.
    aws_rtt_ms: int = 10
    api_rtt_ms: int = 50


FULL = Plan(
    cold_runs=6,
    warm_pairs=20,
    slow_api_pairs=5,
    rss_runs=1,
    heavy_label="two 4 MB inputs, 4095 px result",
    heavy=heavy_pair,
    throughput_pairs=100,
    cap=4,
    call_ms=1000,
    network_pairs=8,
    profile_pairs=30,
    reps=3,
)
# Every code path of the full run, in seconds: for the smoke test, not for numbers. Two
# repetitions are enough to take medians and spreads; smaller portraits and a shorter slow
# API keep it cheap (its figures are printed, never checked).
QUICK = Plan(
    cold_runs=1,
    warm_pairs=3,
    slow_api_pairs=1,
    rss_runs=1,
    heavy_label="two 1024 px inputs (quick run)",
    heavy=lambda: portrait_pair(1024),
    # More than two of the baseline's batches of five: both slots get busy before the queue
    # runs dry, or the steady-state window (and its figure) would be empty.
    throughput_pairs=12,
    cap=2,
    call_ms=200,
    network_pairs=1,
    profile_pairs=2,
    reps=2,
    warmup_pairs=1,
    pair_side=512,
    slow_api_ms=500,
)


@dataclass
class Measured:
    """Everything measured for one handler in one repetition."""

    startups: list[Startup] = field(default_factory=list)
    first_pairs: list[Handled] = field(default_factory=list)
    warm: list[Handled] = field(default_factory=list)
    slow_api: list[Handled] = field(default_factory=list)
    network: list[Handled] = field(default_factory=list)
    heavy: list[Handled] = field(default_factory=list)
    round_trips: list[RoundTrips] = field(default_factory=list)
    network_round_trips: list[RoundTrips] = field(default_factory=list)  # the handler's view
    stages_ms: dict[str, list[int]] = field(default_factory=dict)
    throughput: Throughput | None = None
    modelled_throughput: Throughput | None = None  # through the round-trip model's proxies


def imports(bench: Bench) -> dict[str, dict[str, float]]:
    """Each handler's import time by package (ms), from one cold start each."""
    return {name: import_breakdown(handler, bench.env) for name, handler in HANDLERS.items()}


def run(
    bench: Bench, plan: Plan, progress: Callable[[str], None], *, baseline_first: bool = False
) -> dict[str, Measured]:
    """Take one repetition of every measurement of `plan` for both handlers.

    Each step alternates the handlers in the order of the dict returned: the baseline
    first with `baseline_first`, so that repetitions taken in turn (ours first, then the
    baseline first, ...) leave a drift in the machine's load to neither handler alone.
    """
    names = list(HANDLERS)[::-1] if baseline_first else list(HANDLERS)
    measured = {name: Measured() for name in names}
    pair = portrait_pair(plan.pair_side)
    progress(f"cold starts: {plan.cold_runs} new processes per handler, each then merges a pair")
    _cold_starts(bench, plan, pair, measured)
    progress(
        f"warm pairs: {plan.warm_pairs} per handler, then {plan.slow_api_pairs} beside a slow API"
    )
    _warm(bench, plan, pair, measured)
    progress(
        f"warm pairs with network round trips: +{plan.aws_rtt_ms} ms to AWS, "
        f"+{plan.api_rtt_ms} ms to the API"
    )
    _network(bench, plan, pair, measured)
    progress(f"peak RSS: {plan.heavy_label}")
    _heavy(bench, plan, pair, measured)
    for name, handler_measured in measured.items():
        progress(f"throughput of {name}: {plan.throughput_pairs} pairs, cap {plan.cap} calls")
        handler_measured.throughput = _throughput(bench, plan, name, pair)
    with modelled_network(bench, plan) as env:
        for name, handler_measured in measured.items():
            progress(f"throughput of {name} with the round-trip model")
            handler_measured.modelled_throughput = _throughput(bench, plan, name, pair, env)
    return measured


def _throughput(
    bench: Bench, plan: Plan, name: str, pair: Pair, env: dict[str, str] | None = None
) -> Throughput:
    return throughput.measure(
        bench,
        name,
        pair,
        pairs=plan.throughput_pairs,
        cap=plan.cap,
        latency_ms=plan.call_ms,
        env=env,
    )


def merge_one(bench: Bench, box: Sandbox, name: str, pair: Pair) -> tuple[Handled, dict[str, Any]]:
    """Have the handler in `box` merge a new pair; its handling and its (checked) document."""
    pair_id = new_pair_id(name)
    handled = box.invoke(bench.completing_event(pair_id, pair))
    return handled, bench.check_succeeded(name, pair_id)


def _in_order(measured: dict[str, Measured]) -> dict[str, str]:
    """The handlers (name: handler) in the repetition's order."""
    return {name: HANDLERS[name] for name in measured}


def _sandboxes(
    stack: ExitStack, bench: Bench, env: dict[str, str], measured: dict[str, Measured]
) -> dict[str, Sandbox]:
    return {
        name: stack.enter_context(Sandbox(handler, env, bench.log_file))
        for name, handler in _in_order(measured).items()
    }


def _interleaved(
    bench: Bench, boxes: dict[str, Sandbox], pair: Pair, *, warmup: int, count: int
) -> Iterator[tuple[str, Handled, dict[str, Any]]]:
    """`warmup` unmeasured pairs, then `count` measured ones, alternating between handlers."""
    for index in range(warmup + count):
        for name, box in boxes.items():
            handled, document = merge_one(bench, box, name, pair)
            if index >= warmup:
                yield name, handled, document


def _cold_starts(bench: Bench, plan: Plan, pair: Pair, measured: dict[str, Measured]) -> None:
    # One unmeasured start each fills the bytecode cache and the page cache.
    for handler in _in_order(measured).values():
        with Sandbox(handler, bench.env, bench.log_file):
            pass
    for _ in range(plan.cold_runs):
        for name, handler in _in_order(measured).items():
            with Sandbox(handler, bench.env, bench.log_file) as box:
                handled, _document = merge_one(bench, box, name, pair)
            assert box.startup is not None
            measured[name].startups.append(box.startup)
            measured[name].first_pairs.append(handled)


def _warm(bench: Bench, plan: Plan, pair: Pair, measured: dict[str, Measured]) -> None:
    """Warm pairs with their round trips counted, then pairs beside a slow API."""
    with ExitStack() as stack:
        boxes = _sandboxes(stack, bench, bench.env, measured)
        stack.callback(bench.emulator.reset)
        stack.enter_context(bench.recording_requests())
        for name, handled, document in _interleaved(
            bench, boxes, pair, warmup=plan.warmup_pairs, count=plan.warm_pairs
        ):
            measured[name].warm.append(handled)
            measured[name].round_trips.append(
                round_trips.within(
                    bench.requests.entries(), bench.emulator.call_log(), handled.start, handled.end
                )
            )
            for stage, ms in document.get("timings_ms", {}).items():
                measured[name].stages_ms.setdefault(stage, []).append(ms)
        bench.emulator.set_faults(Faults(latency_ms=plan.slow_api_ms))
        for name, handled, _ in _interleaved(
            bench, boxes, pair, warmup=0, count=plan.slow_api_pairs
        ):
            measured[name].slow_api.append(handled)


def _network(bench: Bench, plan: Plan, pair: Pair, measured: dict[str, Measured]) -> None:
    """Warm pairs again, with every connection to moto and to the emulator through a proxy
    that adds a round-trip time: what keep-alive and concurrent reads save, made visible.
    Their sequential rounds are counted as the handler sees them (`round_trips.within`)."""
    with modelled_network(bench, plan) as env, ExitStack() as stack:
        boxes = _sandboxes(stack, bench, env, measured)
        stack.callback(bench.emulator.reset)
        stack.enter_context(bench.recording_requests())
        for name, handled, _ in _interleaved(
            bench, boxes, pair, warmup=plan.warmup_pairs, count=plan.network_pairs
        ):
            measured[name].network.append(handled)
            measured[name].network_round_trips.append(
                round_trips.within(
                    bench.requests.entries(),
                    bench.emulator.call_log(),
                    handled.start,
                    handled.end,
                    aws_rtt_s=plan.aws_rtt_ms / 1000,
                    api_rtt_s=plan.api_rtt_ms / 1000,
                )
            )


@contextmanager
def modelled_network(bench: Bench, plan: Plan) -> Iterator[dict[str, str]]:
    """The function's environment with AWS and the API behind `plan`'s round-trip times."""
    api = urlsplit(bench.emulator.url)
    aws = urlsplit(bench.stack.endpoint_url)
    with (
        DelayProxy((aws.hostname or "", aws.port or 0), plan.aws_rtt_ms) as aws_proxy,
        DelayProxy((api.hostname or "", api.port or 0), plan.api_rtt_ms) as api_proxy,
    ):
        yield {
            **bench.env,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{aws_proxy.port}",
            "FUSION_API_URL": f"https://127.0.0.1:{api_proxy.port}{api.path}",
        }


def _heavy(bench: Bench, plan: Plan, pair: Pair, measured: dict[str, Measured]) -> None:
    heavy = plan.heavy()
    # An unmeasured round first: the emulator's first merge of these inputs takes seconds.
    for index in range(1 + plan.rss_runs):
        for name, handler in _in_order(measured).items():
            with Sandbox(handler, bench.env, bench.log_file) as box:
                merge_one(bench, box, name, pair)  # warm: the heavy pair's CPU is its own
                handled = merge_one(bench, box, name, heavy)[0]
            if index:
                measured[name].heavy.append(handled)
