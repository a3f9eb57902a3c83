"""The profile of a warm pair, for both handlers: folded stacks, flame graphs, top functions.

Each handler gets a sandbox of its own after the measured runs, so that the sampler's cost
lands in no figure. Its first pair is not sampled (it pays for what the handler deferred).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import flamegraph, profiling
from benchmarks.profiling import Stack
from benchmarks.runner import Plan, merge_one
from benchmarks.sandbox import Sandbox
from benchmarks.workload import HANDLERS, Bench, portrait_pair

Profiles = dict[str, dict[Stack, int]]


def measure(bench: Bench, plan: Plan, progress: Callable[[str], None]) -> Profiles:
    """Sampled stacks (weights in µs of wall time) of `plan.profile_pairs` warm pairs each."""
    pair = portrait_pair(plan.pair_side)
    profiles = {}
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as workdir:
        for name, handler in HANDLERS.items():
            progress(f"profile of {name}: {plan.profile_pairs} warm pairs, sampled")
            folded = Path(workdir) / f"{name}.folded"
            env = {**bench.env, profiling.ENV: str(folded)}
            with Sandbox(handler, env, bench.log_file) as box:
                for _ in range(1 + plan.profile_pairs):
                    merge_one(bench, box, name, pair)
            profiles[name] = profiling.parse_folded(folded.read_text())
    return profiles


def write(out: Path, profiles: Profiles, pairs: int) -> list[Path]:
    """`profile.folded` and `flamegraph.png` (ours), `-baseline` ones for the baseline."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, stacks in profiles.items():
        suffix = "" if name == "ours" else f"-{name}"
        folded, image = out / f"profile{suffix}.folded", out / f"flamegraph{suffix}.png"
        folded.write_text(profiling.fold(stacks))
        title = (
            f"{name}: {pairs} warm pairs, wall time of the threads working for the handler "
            f"(sampled every ~1 ms; idle pool threads left out)"
        )
        flamegraph.draw(stacks, title).save(image, optimize=True)
        written += [folded, image]
    return written


def summary(
    profiles: Profiles, pairs: int, top: int = 10
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Each handler's top functions by self time in ms per pair: of all the working threads'
    time, and of the time not spent waiting on a socket (roughly the CPU's)."""
    views = {"working": lambda s: s, "off the network": profiling.off_the_network}
    return {
        name: {
            view: [
                {
                    "function": entry.function,
                    "self_ms_per_pair": entry.self_count / 1000 / max(pairs, 1),
                    "total_ms_per_pair": entry.total_count / 1000 / max(pairs, 1),
                }
                for entry in profiling.top_functions(pick(stacks), top)
            ]
            for view, pick in views.items()
        }
        for name, stacks in profiles.items()
    }


def top_table(profiles: Profiles, pairs: int, top: int = 10) -> str:
    """The top functions of `summary`, as text."""
    lines = []
    for name, views in summary(profiles, pairs, top).items():
        for view, entries in views.items():
            lines.append(
                f"{name}, {view}: top {top} functions by self time "
                "(ms per warm pair; incl. = with callees)"
            )
            lines += [
                f"  {e['self_ms_per_pair']:7.2f}  incl. {e['total_ms_per_pair']:7.2f}  "
                f"{e['function']}"
                for e in entries
            ]
    return "\n".join(lines)
