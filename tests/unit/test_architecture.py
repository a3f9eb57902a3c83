"""The folders are the architecture: the README's table, the folders and the layer contracts
agree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "functions" / "fusion" / "portrait_fusion"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
ROW = re.compile(r"^\| `(?P<package>[a-z_]+)/` \| (?P<concern>[^|]+) \| (?P<modules>[^|]+) \|$")


def subpackages_on_disk() -> dict[str, set[str]]:
    return {
        folder.name: {module.stem for module in folder.glob("*.py")} - {"__init__"}
        for folder in sorted(PACKAGE.iterdir())
        if (folder / "__init__.py").exists()
    }


def subpackages_in_readme() -> dict[str, set[str]]:
    rows = [ROW.match(line) for line in (ROOT / "README.md").read_text().splitlines()]
    return {row["package"]: set(re.findall(r"`([a-z_]+)`", row["modules"])) for row in rows if row}


def test_the_readme_lists_every_subpackage_with_exactly_its_modules() -> None:
    assert subpackages_in_readme() == subpackages_on_disk()


def test_the_package_is_only_subpackages_and_none_is_crowded() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert loose == []
    crowded = {name: len(mods) for name, mods in subpackages_on_disk().items() if len(mods) > 10}
    assert crowded == {}


def lint_imports(tree: Path, contract: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(LINT_IMPORTS),
            "--no-cache",
            "--config",
            str(ROOT / "pyproject.toml"),
            "--contract",
            contract,
        ],
        cwd=ROOT,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the function's code that a test may break."""
    shutil.copytree(PACKAGE.parent / "portrait_fusion", tmp_path / "portrait_fusion")
    shutil.copytree(PACKAGE.parent / "pair_api", tmp_path / "pair_api")
    return tmp_path


def add_import(tree: Path, module: str, statement: str) -> None:
    path = tree / "portrait_fusion" / f"{module.replace('.', '/')}.py"
    path.write_text(path.read_text() + f"\n{statement}  # noqa\n")


@pytest.mark.parametrize("contract", ["layers", "ports", "pure", "pair-api-apart"])
def test_every_contract_is_kept_by_the_code_as_it_is(tree: Path, contract: str) -> None:
    result = lint_imports(tree, contract)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("contract", "module", "statement"),
    [
        # an import running back up: the pipeline reaching for the entry points
        ("layers", "pipeline.pair_run", "from portrait_fusion.entry import bootstrap"),
        # a pure rule reaching for a layer above it
        ("layers", "pairs.pairing", "from portrait_fusion.images import preflight"),
        # the pipeline talking to AWS itself instead of through a port
        ("ports", "pipeline.outputs", "import boto3"),
        # a pure rule pulling in the SDK through an adapter
        ("pure", "api.retry_policy", "from portrait_fusion.aws import storage"),
        ("pair-api-apart", "core.settings", "import pair_api.routes"),
    ],
)
def test_a_contract_breaks_when_an_import_runs_back_up(
    tree: Path, contract: str, module: str, statement: str
) -> None:
    add_import(tree, module, statement)
    result = lint_imports(tree, contract)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
