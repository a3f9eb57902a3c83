"""`make bench`: our handler and the naive baseline, side by side, on the local stack.

    python -m benchmarks.bench            # the full run (several minutes)
    python -m benchmarks.bench --quick    # every measurement, tiny: checks that it all runs
    python -m benchmarks.bench --reps 5   # more repetitions of every figure
    python -m benchmarks.bench --worst-inputs-only   # only the worst-input memory figure
    python -m benchmarks.bench --by-feature   # only CPU per warm pair, one feature off at a time

Every figure is measured `--reps` times (ours and the baseline alternating); the table
prints the repetitions' median and spread. Writes `bench.json`, `bench.png`,
`timeline.png` (the API's slots during the throughput runs), `profile.folded` and
`flamegraph.png` (a sampled profile of warm pairs) to `--out`.

Exits 0 whether or not the targets are met (the table says which are), but 3 when a
checked figure's repetitions are further apart than `--max-spread` allows: the machine was
too busy to measure. A `--quick` run prints the spreads and does not check them.

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
# %: repetitions on a quiet machine land well within this; a busy one's do not.
DEFAULT_MAX_SPREAD = 15.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tiny run that checks it all works")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where results go")
    parser.add_argument(
        "--reps", type=int, default=None, help="repetitions of every figure (default: 3)"
    )
    parser.add_argument(
        "--max-spread",
        type=float,
        default=DEFAULT_MAX_SPREAD,
        help="fail when a checked figure's (max - min) / median over the repetitions is above "
        "this many %% (some figures allow a multiple of it)",
    )
    parser.add_argument(
        "--worst-inputs-only",
        action="store_true",
        help="measure and print only the peak memory of the worst accepted inputs",
    )
    parser.add_argument(
        "--by-feature",
        action="store_true",
        help="measure and print only the CPU time of a warm pair with each feature off in turn",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the tables; write the JSON and the images."""
    args = _parser().parse_args(argv)

    from benchmarks import (
        by_feature,
        profile_run,
        repetitions,
        report,
        runner,
        timeline,
        worst_inputs,
    )
    from benchmarks.round_trips import table as round_trips_table
    from benchmarks.workload import running_bench

    plan = runner.QUICK if args.quick else runner.FULL
    reps = args.reps or plan.reps
    started = time.monotonic()

    def progress(step: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {step}", file=sys.stderr, flush=True)

    progress("starting moto, the emulator (HTTPS) and the template's resources")
    with running_bench() as bench:
        if args.worst_inputs_only:
            peaks = worst_inputs.measure(bench, progress, quick=args.quick)
            print(report.table(worst_inputs.figures(peaks)))
            return 0
        if args.by_feature:
            print(by_feature.table(by_feature.measure(bench, plan.warm_pairs, progress)))
            return 0
        measured = []
        for rep in range(reps):
            progress(f"repetition {rep + 1} of {reps}")
            measured.append(runner.run(bench, plan, progress, baseline_first=rep % 2 == 1))
        progress("import time by package (python -X importtime)")
        imports = runner.imports(bench)
        profiles = profile_run.measure(bench, plan, progress)
        peaks = worst_inputs.measure(bench, progress, quick=args.quick)
    rows = repetitions.combine([report.figures(m, plan) for m in measured])
    rows += worst_inputs.figures(peaks)
    extras = report.Extras(
        max_spread=args.max_spread,
        quick=args.quick,
        noisy=[vars(n) for n in repetitions.too_noisy(rows, args.max_spread)],
        imports_ms=imports,
        profile=profile_run.summary(profiles, plan.profile_pairs),
    )
    report.write(args.out, measured, plan, rows, extras)
    timeline.draw(report.slot_runs(report.median_repetition(measured))).save(
        args.out / "timeline.png", optimize=True
    )
    written = profile_run.write(args.out, profiles, plan.profile_pairs)

    print(report.table(rows))
    print()
    print(timeline.stats_table(report.slots_by_handler(measured)))
    print()
    trips = report.round_trips_by_handler(measured)
    print("round trips of a warm pair (median over the warm pairs of every repetition):")
    print(round_trips_table(trips["ours"], trips["baseline"]))
    print()
    print("import time by package (python -X importtime, one cold start each):")
    print(report.imports_table(imports))
    print()
    print(f"ours, warm pair by stage (median ms): {report.stages_line(measured, 'ours')}")
    print()
    print(profile_run.top_table(profiles, plan.profile_pairs))
    files = ["bench.json", "bench.png", "timeline.png", *(path.name for path in written)]
    print(f"\nwrote {', '.join(files)} to {args.out}")
    progress("done")
    outcome = repetitions.verdict(rows, args.max_spread, quick=args.quick)
    print(outcome.message, file=sys.stderr if outcome.exit_status else sys.stdout)
    return outcome.exit_status


if __name__ == "__main__":
    sys.exit(main())
