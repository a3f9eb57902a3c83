"""`make test`'s closing summary: each step's time, the tiers under the test run."""

from __future__ import annotations

from pathlib import Path

from tests.stopwatch import summary
from tests.tier_times import tier_of


def test_tiers_are_the_folders_of_tests() -> None:
    assert tier_of("tests/e2e/test_soak.py::test_soak_accounts_for_every_pair") == "e2e"
    assert tier_of("tests/unit/pipeline/test_pipeline.py::test_x[a/b]") == "unit"
    assert tier_of("tests/test_loose.py::test_y") == "test_loose.py"


def test_the_summary_lists_the_steps_with_the_tiers_under_the_tests_and_a_total(
    tmp_path: Path,
) -> None:
    times = tmp_path / "times.tsv"
    times.write_text("lint\t20.5\ntemplate\t40.0\nunit\t12.0\ne2e\t90.0\ntests\t200.0\n")
    assert summary(times).splitlines() == [
        "time per step (s)",
        "  lint                20.5",
        "  template            40.0",
        "  tests              200.0",
        "    tier unit           12.0",
        "    tier e2e            90.0",
        "  total              260.5",
    ]


def test_steps_side_by_side_count_once_in_the_total(tmp_path: Path) -> None:
    # Given the template checks run beside the tests (stamped with their start and end)
    times = tmp_path / "times.tsv"
    times.write_text(
        "lint\t2.0\t1000.000\t1002.000\n"
        "template\t30.0\t1002.000\t1032.000\n"
        "e2e\t90.0\n"
        "tests\t300.0\t1002.100\t1302.100\n"
    )
    # Then the total is the wall time, not the sum of the steps
    assert summary(times).splitlines()[-1] == "  total              302.1"
