"""`make bench` in its quick mode: every measurement runs, the tables and the results appear.

A smoke test, not a timing assertion: the numbers of a tiny run on a busy machine mean
nothing (the quick run prints its spreads and does not check them). The benchmark runs as
its own process, as `make bench` runs it, so its servers and workers end with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from benchmarks.profiling import parse_folded
from tests.bench.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]
OTHER_TARGETS = ("<= 0.8x, <= 512 MB", "< 40% of 1024 MB")
WITHOUT_BASELINE = ("peak RSS: worst accepted inputs", "  worst ")
IMAGES = ("bench.png", "timeline.png", "flamegraph.png", "flamegraph-baseline.png")


@pytest.mark.slow
def test_the_quick_benchmark_prints_the_tables_and_writes_every_result(tmp_path: Path) -> None:
    # When the benchmark runs in its quick mode
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'functions' / 'fusion'}{os.pathsep}{ROOT}"}
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    # Then it succeeds, whatever the spreads, and says it did not check them
    assert run.returncode == 0, run.stderr[-3000:]
    assert "spreads are printed, not checked" in run.stdout
    lines = run.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("figure"))
    assert lines[header].split()[:6] == ["figure", "unit", "ours", "spread", "baseline", "spread"]
    # And the table starts with the targets' figures, in order, each with its target
    top_level = [line for line in lines[header + 2 :] if line and not line.startswith(" ")]
    for line, target in zip(top_level, TARGETS, strict=False):
        assert target in line, line
    assert top_level[3].startswith("cold start: new process to first result")
    for target in OTHER_TARGETS:
        assert target in run.stdout
    # And the round trips, the slots and the profile are printed
    assert "round trips per warm pair: requests to AWS and the API" in run.stdout
    assert "sequential rounds" in run.stdout
    assert "face-fusion API" in run.stdout
    assert "idle gap between a slot's calls" in run.stdout
    assert "top 10 functions by self time" in run.stdout
    assert "import time by package" in run.stdout
    # And the JSON has every figure with each repetition's value, for both handlers
    document = json.loads((tmp_path / "bench.json").read_text())
    figures = {figure["name"]: figure for figure in document["figures"]}
    reps = document["plan"]["reps"]
    for figure in figures.values():
        assert isinstance(figure["ours"], int | float), figure["name"]
        if figure["name"].startswith(WITHOUT_BASELINE):
            continue  # the baseline does not convert inputs: it has no worst-input figure
        assert isinstance(figure["baseline"], int | float), figure["name"]
        assert len(figure["ours_reps"]) == len(figure["baseline_reps"]) == reps
    assert len(document["repetitions"]) == reps
    assert set(document["slots"]) == set(document["round_trips"]) == {"ours", "baseline"}
    assert document["round_trips"]["ours"]["by_operation"]["face-fusion API"] == 1
    throughput = document["figures"][0]
    assert throughput["name"].startswith("steady-state throughput")
    assert throughput["ours"] > 0 and throughput["baseline"] > 0
    # And the images are real PNGs, the profile real folded stacks
    for name in IMAGES:
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG", name
            assert image.width > 500, name
    assert parse_folded((tmp_path / "profile.folded").read_text())
    assert parse_folded((tmp_path / "profile-baseline.folded").read_text())
