"""Time the steps of `make test` and print them together at the end.

    python -m tests.stopwatch FILE STEP -- COMMAND...   run COMMAND, append
                                                         `STEP\\tseconds\\tstarted\\tended`
    python -m tests.stopwatch FILE --summary             print every line of FILE and a total

The test tiers add their own lines to the same file (tests/tier_times.py, TIER_TIMES=FILE).
Steps may run side by side (`make test` runs the template checks beside the tests): the total
is the wall time from the first step's start to the last one's end.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

STEPS = ("browser", "lint", "template", "tests")


def run(times: Path, step: str, command: list[str]) -> int:
    """Run ``command``; record how long it took under ``step``; its exit status."""
    started = time.time()
    status = subprocess.call(command)
    ended = time.time()
    with times.open("a", encoding="utf-8") as out:
        out.write(f"{step}\t{ended - started:.1f}\t{started:.3f}\t{ended:.3f}\n")
    return status


def summary(times: Path) -> str:
    """The recorded steps as a table, each test tier under the pytest run it ran in (tiers
    running on several workers overlap, so they add up to more than the run)."""
    rows = [line.split("\t") for line in times.read_text(encoding="utf-8").splitlines() if line]
    steps = [row for row in rows if row[0] in STEPS]
    tiers = [(name, float(seconds)) for name, seconds, *_ in rows if name not in STEPS]
    lines = ["time per step (s)"]
    for name, seconds, *_ in steps:
        lines.append(f"  {name:<16} {float(seconds):>7.1f}")
        if name == "tests":
            lines += [f"    tier {tier:<11} {wall:>7.1f}" for tier, wall in tiers]
    lines.append(f"  {'total':<16} {_wall(steps):>7.1f}")
    return "\n".join(lines)


def _wall(steps: list[list[str]]) -> float:
    """From the first step's start to the last one's end; the sum of the steps where they
    carry no times (each ran after the other)."""
    if steps and all(len(step) == 4 for step in steps):
        return max(float(step[3]) for step in steps) - min(float(step[2]) for step in steps)
    return sum(float(step[1]) for step in steps)


def main(argv: list[str]) -> int:
    """The command line above."""
    times = Path(argv[0])
    if argv[1:] == ["--summary"]:
        print(summary(times))
        return 0
    step, separator, *command = argv[1:]
    if separator != "--" or not command:
        print(__doc__, file=sys.stderr)
        return 2
    return run(times, step, command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
