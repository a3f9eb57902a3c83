"""Every file of the shared corpus (odd, broken and hostile images from public test suites),
as target and as template, with adjustment on and off, through the function: each ends as a
result or a `failed` document with a documented code; nothing crashes, nothing the API would
refuse is sent. Each file goes through preflight once per mode, inside the function."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from local_stack.emulator.contract import STATUS_OF_CODE
from portrait_fusion.pairs.pairing import Role
from tests import images
from tests.corpus.conftest import FILE_RULE_CODES, Ran, Upload, outcome

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
# The corpus is exactly the files its manifest lists (see its SOURCES.md).
FILES = [line.split("\t")[0] for line in (CORPUS / "MANIFEST.tsv").read_text().splitlines()[1:]]
# Slices of the corpus, each its own test: the workers of `make test` run them side by side.
PARTS = 4


def test_the_manifest_lists_the_whole_corpus() -> None:
    assert len(FILES) == 250
    assert all((CORPUS / name).is_file() for name in FILES)


def _as(role: Role, name: str) -> Upload:
    data = (CORPUS / name).read_bytes()
    if role is Role.TARGET:
        return Upload(f"{name} as target", data, images.as_png(), "png", "png", role)
    return Upload(f"{name} as template", images.as_jpeg(), data, "jpg", "png", role)


# Pillow warns about many of these files (truncated, bombs, odd profiles): expected here.
@pytest.mark.filterwarnings("ignore::UserWarning:PIL")
@pytest.mark.parametrize("part", range(PARTS), ids=[f"part{n + 1}of{PARTS}" for n in range(PARTS)])
@pytest.mark.parametrize("auto_fit", ["true", "false"], ids=["auto-fit", "strict"])
def test_each_file_through_the_function_is_sent_as_the_api_takes_it_or_refused_with_its_code(
    auto_fit: str,
    part: int,
    configure: Callable[..., None],
    run_pairs: Callable[[list[Upload]], list[Ran]],
    emulator: object,
) -> None:
    """Each file as target and as template, in one of PARTS slices of the corpus (so the
    slices run side by side): the function's preflight is the only place the file is checked,
    and the emulator applies the API's published file rules to whatever is sent."""
    configure(AUTO_FIT=auto_fit)
    names = FILES[part::PARTS]
    ran = run_pairs([_as(role, name) for name in names for role in Role])

    outcomes = Counter(outcome(r) for r in ran)
    print(f"\nAUTO_FIT={auto_fit}, part {part + 1}: {dict(sorted(outcomes.items()))}")
    assert "no document" not in outcomes
    for r in ran:
        assert r.document is not None
        role = r.upload.role
        error = r.document["error"]
        if error is not None:
            assert error["code"] in STATUS_OF_CODE, (r.upload.label, error)
        if error is not None and error["stage"] == "preflight":
            assert role.value in error["message"], (r.upload.label, error)
            continue
        # Sent: in a format the API takes, as stored unless auto-fit changed it, ...
        sent = r.document["inputs"][role.value]
        assert sent["format"] in {"JPEG", "PNG", "BMP"}, (r.upload.label, sent)
        if auto_fit == "false":
            assert sent["adjusted"] is None, (r.upload.label, sent)
        # ... and never refused for its file by the API's own rules (the emulator's).
        if error is not None and error["stage"] == "api":
            assert error["code"] not in FILE_RULE_CODES, (r.upload.label, error)
    sent_count = sum(count for key, count in outcomes.items() if not key.startswith("preflight"))
    assert emulator.stats()["calls"] == sent_count  # type: ignore[attr-defined]
