"""`make bench` in its quick mode: every measurement runs, the table and the results appear.

A smoke test, not a timing assertion: the numbers of a tiny run on a busy machine mean
nothing. The benchmark runs as its own process, as `make bench` runs it, so its servers and
workers end with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ("<= 1.0x", "<= 0.7x", "<= 2%", "<= 0.8x", ">= 95% of cap", "< 40% of 1024 MB")
WITHOUT_BASELINE = ("peak RSS: worst accepted inputs", "  worst ")


@pytest.mark.slow
def test_the_quick_benchmark_prints_the_table_and_writes_json_and_png(tmp_path: Path) -> None:
    # When the benchmark runs in its quick mode
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'functions' / 'fusion'}{os.pathsep}{ROOT}"}
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Then it succeeds and prints a row for every performance target, with both handlers
    assert run.returncode == 0, run.stderr[-3000:]
    header = next(line for line in run.stdout.splitlines() if line.startswith("figure"))
    assert header.split()[:4] == ["figure", "unit", "ours", "baseline"]
    for target in TARGETS:
        assert target in run.stdout
    assert "import time by package" in run.stdout
    # And the same figures are in the JSON, with numbers for both handlers
    document = json.loads((tmp_path / "bench.json").read_text())
    figures = {figure["name"]: figure for figure in document["figures"]}
    assert len(figures) >= len(TARGETS)
    for figure in figures.values():
        assert isinstance(figure["ours"], int | float)
        if figure["name"].startswith(WITHOUT_BASELINE):
            continue  # the baseline does not convert inputs: it has no worst-input figure
        assert isinstance(figure["baseline"], int | float)
    assert any(name.startswith("peak RSS: worst accepted inputs") for name in figures)
    throughput = next(f for f in document["figures"] if f["name"].startswith("throughput"))
    assert throughput["ours"] > 0 and throughput["baseline"] > 0
    # And the chart is a real PNG
    with Image.open(tmp_path / "bench.png") as chart:
        assert chart.format == "PNG"
        assert chart.width > 500
