"""`make mutation`'s last step: each mutant that survived its own tests is run against the whole
unit tier in a fresh process, then the score of each module is printed.

mutmut runs a mutant against the tests it saw call the mutated function, in a process that has
imported the package already. A function that runs only while its module is imported (the
error-code table is built so) is then judged by whichever test happened to import it first;
a fresh process imports the mutated module itself, and the whole tier judges it.

Run from the folder `mutmut run` ran in: `python -m tests.mutation [PATTERN ...]` (the patterns
`mutmut run` was given: only those mutants are scored).
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

MUTANTS = Path("mutants")
RECHECK_TIMEOUT_SECONDS = 900
# mutmut's statuses that mean "no test failed"; "no tests" is one too: nothing called it.
_UNDETECTED = frozenset({"survived", "no tests"})
_KILLED_EXIT_CODES = frozenset({1, 3})  # tests failed; an internal error counts as a kill


@dataclass
class Score:
    """One module's mutants by outcome."""

    statuses: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)

    def row(self, module: str) -> str:
        total = sum(self.statuses.values())
        killed, timeout = self.statuses["killed"], self.statuses["timeout"]
        survived = len(self.survivors)
        other = total - killed - timeout - survived
        detected = (killed + timeout) / total if total else 0.0
        return (
            f"{module:<38} {total:>7} {killed:>7} {timeout:>7} {survived:>8} {other:>5}"
            f" {detected:>7.1%}"
        )


def statuses() -> dict[str, str]:
    """Every mutant's status, as `mutmut results --all true` lists them."""
    listing = subprocess.run(
        [str(Path(sys.executable).with_name("mutmut")), "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in listing.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            found[name] = status
    return found


def unit_tier() -> list[str]:
    """The tests mutmut ran (pyproject's `[tool.mutmut]` test selection)."""
    config = tomllib.loads(Path("pyproject.toml").read_text())
    return list(config["tool"]["mutmut"]["pytest_add_cli_args_test_selection"])


def recheck(name: str, tests: list[str]) -> str:
    """The status of mutant `name` against `tests`, in a process of its own."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(
            command,
            cwd=MUTANTS,
            env=os.environ | {"MUTANT_UNDER_TEST": name},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=RECHECK_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "timeout"
    if done.returncode in _KILLED_EXIT_CODES:
        return "killed"
    return "survived" if done.returncode == 0 else f"exit {done.returncode}"


def main(patterns: list[str]) -> int:
    scores: dict[str, Score] = {}
    tests = unit_tier()
    for name, listed in sorted(statuses().items()):
        if patterns and not any(fnmatch.fnmatch(name, p) for p in patterns):
            continue  # the score of the mutants asked for, all re-run where they survived
        status = listed
        if listed in _UNDETECTED:
            status = recheck(name, tests)
            print(f"re-run against the whole tier: {name}: {status}", flush=True)
        score = scores.setdefault(name.rpartition(".")[0], Score())
        score.statuses[status] += 1
        if status in _UNDETECTED:
            score.survivors.append(name)
    print(f"\n{'module':<38} mutants  killed timeout survived other detected")
    for module, score in sorted(scores.items()):
        print(score.row(module))
    total = Score(sum((s.statuses for s in scores.values()), Counter()))
    total.survivors = [name for s in scores.values() for name in s.survivors]
    print(total.row("all"))
    print("\nsurvivors (`mutmut show NAME` shows one):")
    print("\n".join(f"  {name}" for name in total.survivors) or "  none")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
