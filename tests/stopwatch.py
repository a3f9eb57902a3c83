"""Time the steps of `make test` and print them together at the end.

    python -m tests.stopwatch FILE STEP -- COMMAND...   run COMMAND, append `STEP\\tseconds`
    python -m tests.stopwatch FILE --summary             print every line of FILE and a total

The test tiers add their own lines to the same file (tests/tier_times.py, TIER_TIMES=FILE).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

STEPS = ("browser", "lint", "template", "tests")


def run(times: Path, step: str, command: list[str]) -> int:
    """Run ``command``; record how long it took under ``step``; its exit status."""
    started = time.monotonic()
    status = subprocess.call(command)
    with times.open("a", encoding="utf-8") as out:
        out.write(f"{step}\t{time.monotonic() - started:.1f}\n")
    return status


def summary(times: Path) -> str:
    """The recorded steps as a table, each test tier under the pytest run it ran in (tiers
    running on several workers overlap, so they add up to more than the run)."""
    rows = [line.split("\t") for line in times.read_text(encoding="utf-8").splitlines() if line]
    steps = [(name, float(seconds)) for name, seconds in rows if name in STEPS]
    tiers = [(name, float(seconds)) for name, seconds in rows if name not in STEPS]
    lines = ["time per step (s)"]
    for name, seconds in steps:
        lines.append(f"  {name:<16} {seconds:>7.1f}")
        if name == "tests":
            lines += [f"    tier {tier:<11} {wall:>7.1f}" for tier, wall in tiers]
    lines.append(f"  {'total':<16} {sum(seconds for _, seconds in steps):>7.1f}")
    return "\n".join(lines)


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
