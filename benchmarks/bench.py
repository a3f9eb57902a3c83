"""`make bench`: our handler and the naive baseline, side by side, on the local stack.

    python -m benchmarks.bench            # the full run (a few minutes)
    python -m benchmarks.bench --quick    # every measurement, tiny: checks that it all runs
    python -m benchmarks.bench --worst-inputs-only   # only the worst-input memory figure

Prints the figures against the performance targets and writes `bench.json` and `bench.png`
to `--out`.
Exits 0 whether or not the targets are met: the table says which are.

Only the standard library is imported at module level: the event source mapping starts its
workers with multiprocessing's spawn, which re-imports this (the main) module in each of
them, and a worker's imports are part of what is measured.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table; write the JSON and the chart."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tiny run that checks it all works")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where results go")
    parser.add_argument(
        "--worst-inputs-only",
        action="store_true",
        help="measure and print only the peak memory of the worst accepted inputs",
    )
    args = parser.parse_args(argv)

    from benchmarks import report, runner, worst_inputs
    from benchmarks.workload import running_bench

    plan = runner.QUICK if args.quick else runner.FULL
    started = time.monotonic()

    def progress(step: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {step}", file=sys.stderr, flush=True)

    progress("starting moto, the emulator (HTTPS) and the template's resources")
    with running_bench() as bench:
        if args.worst_inputs_only:
            peaks = worst_inputs.measure(bench, progress, quick=args.quick)
            print(report.table(worst_inputs.figures(peaks)))
            return 0
        measured = runner.run(bench, plan, progress)
        peaks = worst_inputs.measure(bench, progress, quick=args.quick)
    rows = report.figures(measured, plan) + worst_inputs.figures(peaks)
    report.write(args.out, measured, plan, rows)
    print(report.table(rows))
    print()
    print("import time by package (python -X importtime, one cold start each):")
    print(report.imports_table(measured))
    print()
    print(f"ours, warm pair by stage (median ms): {report.stages_line(measured['ours'])}")
    print(f"\nwrote {args.out / 'bench.json'} and {args.out / 'bench.png'}")
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
