"""Each test tier's time, printed at the end of a pytest run (with or without -n workers).

A tier is a folder of `tests/`. Its wall time runs from the start of its first test to the
end of its last one (setup and teardown included): with several workers the tiers overlap,
so the walls add up to more than the run. Its busy time is the sum of its tests' times.
With `TIER_TIMES=<file>` in the environment the walls are also appended to that file as
`<tier>\t<seconds>` lines, for `make test`'s closing summary (tests/stopwatch.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Tier:
    """What the reports of one tier add up to."""

    tests: int = 0
    busy_s: float = 0.0
    first_start: float = float("inf")
    last_stop: float = 0.0

    def add(self, report: pytest.TestReport) -> None:
        """Count one phase (setup, call or teardown) of one test."""
        self.tests += report.when == "call"
        self.busy_s += report.duration
        self.first_start = min(self.first_start, report.start)
        self.last_stop = max(self.last_stop, report.stop)

    @property
    def wall_s(self) -> float:
        """From the first test's start to the last one's end."""
        return max(0.0, self.last_stop - self.first_start)


_tiers: dict[str, Tier] = {}


def tier_of(nodeid: str) -> str:
    """`tests/<tier>/...` -> `<tier>`; a test module directly in tests/ is its own tier."""
    parts = nodeid.split("::", 1)[0].split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else parts[-1]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Runs where the reports arrive: in the one process, or in xdist's controller."""
    if report.start:
        _tiers.setdefault(tier_of(report.nodeid), Tier()).add(report)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The table of tiers, slowest first."""
    if not _tiers or hasattr(terminalreporter.config, "workerinput"):
        return
    write = terminalreporter.write_line
    terminalreporter.section("tier times")
    write(f"{'tier':<12} {'tests':>6} {'wall s':>8} {'busy s':>8}")
    for name, tier in sorted(_tiers.items(), key=lambda item: -item[1].wall_s):
        write(f"{name:<12} {tier.tests:>6} {tier.wall_s:>8.1f} {tier.busy_s:>8.1f}")
    target = os.environ.get("TIER_TIMES")
    if target:
        with Path(target).open("a", encoding="utf-8") as times:
            for name, tier in sorted(_tiers.items()):
                times.write(f"{name}\t{tier.wall_s:.1f}\n")
