"""`make demo` as a user runs it: ``python -m local_stack.demo`` in its own process, on the
emulator, checked through what it prints and what it leaves on disk."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from local_stack.demo import API_KEY_VARIABLE, DOCS_MAX_BYTES
from local_stack.demo_pairs import DEMO_PAIRS
from tests.completion import assert_valid_event

ROOT = Path(__file__).resolve().parents[2]
BUDGET_S = 180  # the README's promise for `make demo` after installs
# Two results count as visibly different when some 16x16 block differs by this much on
# average (0-255 scale); JPEG noise between equal pictures stays under 10.
BLOCK = 16
VISIBLE_BLOCK_DIFFERENCE = 20.0


@dataclass(frozen=True)
class DemoRun:
    completed: subprocess.CompletedProcess[str]
    out: Path
    docs: Path
    wall_s: float


# One demo run serves every test here: on one worker (make test's --dist loadgroup).
pytestmark = pytest.mark.xdist_group("demo")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One run of the demo for the whole module, on the emulator whatever the shell has set."""
    out = tmp_path_factory.mktemp("demo")
    docs = out / "docs" / "demo-overview.png"
    env = {name: value for name, value in os.environ.items() if name != API_KEY_VARIABLE}
    env["PYTHONPATH"] = f"{ROOT / 'functions' / 'fusion'}{os.pathsep}{ROOT}"
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "local_stack.demo", "--out", str(out), "--docs", str(docs)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUDGET_S,
        check=False,
    )
    return DemoRun(completed, out, docs, time.monotonic() - started)


def summary_rows(stdout: str) -> dict[str, list[str]]:
    """The summary table's rows by pair id: its cells, split on whitespace."""
    lines = stdout.splitlines()
    start = lines.index("summary:") + 2  # past the header row
    rows: dict[str, list[str]] = {}
    for line in lines[start:]:
        if not line.startswith("  ") or line.startswith("  note:"):
            break
        cells = line.split()
        rows[cells[0]] = cells
    return rows


def test_the_demo_runs_on_the_emulator_within_the_budget(demo: DemoRun) -> None:
    output = demo.completed.stdout + demo.completed.stderr
    assert demo.completed.returncode == 0, output
    assert "face-fusion API: the local EMULATOR at https://127.0.0.1:" in demo.completed.stdout
    assert f"all {len(DEMO_PAIRS)} pairs ended as expected" in demo.completed.stdout
    assert "wall time: " in demo.completed.stdout
    assert demo.wall_s < BUDGET_S


def test_the_summary_accounts_for_every_bundled_pair(demo: DemoRun) -> None:
    rows = summary_rows(demo.completed.stdout)
    assert sorted(rows) == sorted(pair.pair_id for pair in DEMO_PAIRS)
    for pair in DEMO_PAIRS:
        _, outcome, code, latency, attempts, similarity, expected = rows[pair.pair_id]
        assert outcome == pair.expected.status, rows[pair.pair_id]
        assert code in (pair.expected.codes or {"-"}), rows[pair.pair_id]
        assert expected == "yes"
        assert similarity == ("-" if pair.similarity is None else str(pair.similarity))
        if pair.expected.stage == "preflight":  # refused before any call
            assert (latency, attempts) == ("-", "0")
        else:
            assert int(latency) >= 0
            assert int(attempts) >= 1


def test_every_pair_leaves_its_document_results_and_contact_sheet(
    demo: DemoRun, assert_valid_document: Any
) -> None:
    for pair in DEMO_PAIRS:
        folder = demo.out / pair.pair_id
        document = assert_valid_document(json.loads((folder / "result.json").read_text()))
        assert document["pair_id"] == pair.pair_id
        assert pair.expected.met_by(document)
        results = sorted(folder.glob("result.*"))
        if document["status"] == "succeeded":
            image = folder / document["result"]["key"].rsplit("/", 1)[-1]
            assert results == sorted([folder / "result.json", image])
            assert hashlib.sha256(image.read_bytes()).hexdigest() == document["result"]["sha256"]
        else:
            assert results == [folder / "result.json"]
        with Image.open(folder / "contact-sheet.png") as sheet:
            assert sheet.format == "PNG"
            assert sheet.width > 3 * 200  # three panels side by side
    with Image.open(demo.out / "overview.png") as overview:
        assert overview.format == "PNG"
        assert overview.height > len(DEMO_PAIRS) * 200  # every pair, stacked
    assert 0 < demo.docs.stat().st_size <= DOCS_MAX_BYTES


def visibly_different(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    """Whether some 16x16 block of two same-sized pictures differs clearly on average."""
    assert a.shape == b.shape
    difference = np.abs(a - b).mean(axis=2)
    rows, columns = (side // BLOCK * BLOCK for side in difference.shape)
    blocks = difference[:rows, :columns].reshape(rows // BLOCK, BLOCK, columns // BLOCK, BLOCK)
    return bool(blocks.mean(axis=(1, 3)).max() > VISIBLE_BLOCK_DIFFERENCE)


def test_the_two_similarities_give_visibly_different_results(demo: DemoRun) -> None:
    # The succeeded pairs that differ in nothing but source_similarity
    by_inputs: dict[tuple[bytes, bytes], dict[float, str]] = {}
    for pair in DEMO_PAIRS:
        if pair.expected.status == "succeeded" and pair.similarity is not None:
            inputs = (pair.target().data, pair.template().data)
            by_inputs.setdefault(inputs, {})[pair.similarity] = pair.pair_id
    (similarities,) = (group for group in by_inputs.values() if len(group) == 2)
    low, high = (result_pixels(demo.out / similarities[s]) for s in sorted(similarities))
    assert visibly_different(low, high)


def test_the_oversized_and_the_phone_pair_do_not_look_alike(demo: DemoRun) -> None:
    # Both put the astronaut onto Hopper's portrait; their results must still tell apart
    oversized = result_pixels(demo.out / "oversized-target")
    phone = result_pixels(demo.out / "phone-rotated-target")
    assert visibly_different(oversized, phone)


def result_pixels(folder: Path) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The pair's result image, as float RGB."""
    document = json.loads((folder / "result.json").read_text())
    with Image.open(folder / document["result"]["key"].rsplit("/", 1)[-1]) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32)


def test_the_demo_prints_and_keeps_one_completion_event_per_pair(demo: DemoRun) -> None:
    lines = demo.completed.stdout.splitlines()
    start = lines.index("events received (EventBridge rule -> local queue):") + 1
    printed = {line.split()[0]: line for line in lines[start : start + len(DEMO_PAIRS)]}
    assert sorted(printed) == sorted(pair.pair_id for pair in DEMO_PAIRS)
    events = json.loads((demo.out / "events.json").read_text())
    assert sorted(e["detail"]["pair_id"] for e in events) == sorted(printed)
    for event in events:
        assert_valid_event(event)
        pair_id = event["detail"]["pair_id"]
        document = json.loads((demo.out / pair_id / "result.json").read_text())
        assert event["detail"]["status"] == document["status"]
        assert event["detail"]["correlation_id"] == document["correlation_id"] == f"demo-{pair_id}"
        assert event["detail"]["event_id"] in printed[pair_id]


def test_the_notes_say_in_words_what_auto_fit_did(demo: DemoRun) -> None:
    notes = [line for line in demo.completed.stdout.splitlines() if line.startswith("  note: ")]
    assert notes == [
        "  note: oversized-target: target shrunk from 4400x4400 to 4095x4095 px "
        "(the API takes under 4096 px)",
        "  note: phone-rotated-target: target stored sideways (EXIF orientation 6), turned upright",
        "  note: heic-template: template converted from HEIF to JPEG",
    ]


def test_a_sideways_phone_jpeg_and_a_heic_template_are_merged_upright(demo: DemoRun) -> None:
    # The emulator finds faces on the stored pixels only: success means they were sent upright.
    rotated = json.loads((demo.out / "phone-rotated-target" / "result.json").read_text())
    assert rotated["status"] == "succeeded"
    assert "rotated" in rotated["inputs"]["target"]["adjusted"]["changes"]
    assert rotated["inputs"]["target"]["adjusted"]["orientation"] == 6
    heic = json.loads((demo.out / "heic-template" / "result.json").read_text())
    assert heic["status"] == "succeeded"
    assert heic["inputs"]["template"]["adjusted"]["original"]["format"] == "HEIF"
    assert heic["inputs"]["template"]["format"] == "JPEG"
