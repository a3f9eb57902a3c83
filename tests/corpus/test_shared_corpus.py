"""Every file of the shared corpus (odd, broken and hostile images from public test suites),
as target and as template, with adjustment on and off: each ends as a result or a `failed`
document with a documented code; nothing crashes, nothing the API would refuse is sent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from local_stack.emulator.contract import STATUS_OF_CODE, Refusal
from local_stack.emulator.validation import TARGET_FIELD, TEMPLATE_FIELD, inspect_image
from portrait_fusion.core.errors import PreflightError
from portrait_fusion.images.preflight import prepare
from portrait_fusion.pairs.pairing import Role
from tests import images
from tests.corpus.conftest import FILE_RULE_CODES, Ran, Upload, outcome

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
# The corpus is exactly the files its manifest lists (see its SOURCES.md).
FILES = [line.split("\t")[0] for line in (CORPUS / "MANIFEST.tsv").read_text().splitlines()[1:]]
FIELD = {Role.TARGET: TARGET_FIELD, Role.TEMPLATE: TEMPLATE_FIELD}


def test_the_manifest_lists_the_whole_corpus() -> None:
    assert len(FILES) == 250
    assert all((CORPUS / name).is_file() for name in FILES)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about many of these files
@pytest.mark.parametrize("auto_fit", [True, False], ids=["auto-fit", "strict"])
@pytest.mark.parametrize("role", list(Role), ids=[role.value for role in Role])
@pytest.mark.parametrize("name", FILES)
def test_each_file_is_sent_as_the_api_takes_it_or_refused_with_a_documented_code(
    name: str, role: Role, auto_fit: bool
) -> None:
    data = (CORPUS / name).read_bytes()
    try:
        prepared = prepare(role, data, auto_fit=auto_fit)
    except PreflightError as refused:
        assert refused.code in STATUS_OF_CODE, refused.code
        assert role.value in refused.message
        return
    if not auto_fit:
        assert prepared.data is data  # strict rules: nothing converted
    assert prepared.info.format.name in {"JPEG", "PNG", "BMP"}
    try:
        inspect_image(FIELD[role], prepared.data)  # the API's own file rules, as published
    except Refusal as refused:
        pytest.fail(f"sent {prepared.info}, which the API refuses: {refused.code}")


def _as(role: Role, name: str) -> Upload:
    data = (CORPUS / name).read_bytes()
    if role is Role.TARGET:
        return Upload(f"{name} as target", data, images.as_png(), "png", "png")
    return Upload(f"{name} as template", images.as_jpeg(), data, "jpg", "png")


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("auto_fit", ["true", "false"], ids=["auto-fit", "strict"])
def test_the_whole_corpus_through_the_function(
    auto_fit: str,
    configure: Callable[..., None],
    run_pairs: Callable[[list[Upload]], list[Ran]],
    emulator: object,
) -> None:
    configure(AUTO_FIT=auto_fit)
    ran = run_pairs([_as(role, name) for name in FILES for role in Role])

    outcomes = Counter(outcome(r) for r in ran)
    print(f"\nAUTO_FIT={auto_fit}: {dict(sorted(outcomes.items()))}")
    assert "no document" not in outcomes
    for r in ran:
        assert r.document is not None
        error = r.document["error"]
        if error is None:
            continue
        assert error["code"] in STATUS_OF_CODE, (r.upload.label, error)
        # What reached the API was never refused for its file: preflight caught all of that.
        if error["stage"] == "api":
            assert error["code"] not in FILE_RULE_CODES, (r.upload.label, error)
    sent = sum(count for key, count in outcomes.items() if not key.startswith("preflight"))
    assert emulator.stats()["calls"] == sent  # type: ignore[attr-defined]
