"""The demo's status lines: what happened to a pair, read from its result document."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.demo_status import adjustment, status_line


def image(fmt: str = "JPEG", width: int = 512, height: int = 512, **extra: Any) -> dict[str, Any]:
    return {"format": fmt, "mode": "RGB", "width": width, "height": height, "size": 68000} | extra


def adjusted(changes: list[str], orientation: int = 1, **sides: dict[str, Any]) -> dict[str, Any]:
    """An `inputs.<role>.adjusted` object as the preflight writes it."""
    return {
        "action": ", ".join(changes) + " (AUTO_FIT)",
        "changes": changes,
        "orientation": orientation,
        "original": sides.get("original", image()),
        "sent": sides.get("sent", image()),
    }


def succeeded(target: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "status": "succeeded",
        "error": None,
        "inputs": {"target": {"adjusted": target}, "template": {"adjusted": None}},
        "api": {"attempts": 1},
    } | extra


@pytest.mark.parametrize(
    ("orientation", "words"),
    [(6, "stored sideways"), (8, "stored sideways"), (3, "stored upside down")],
)
def test_a_turned_photo_says_how_it_was_stored_and_that_it_was_turned_upright(
    orientation: int, words: str
) -> None:
    # A rotation keeps the size: the line must not speak of fitting
    line = adjustment("target", adjusted(["rotated"], orientation))
    assert line == f"target {words} (EXIF orientation {orientation}), turned upright"


def test_a_conversion_names_both_formats() -> None:
    line = adjustment("template", adjusted(["converted"], original=image("HEIF")))
    assert line == "template converted from HEIF to JPEG"


def test_a_conversion_of_the_pixels_names_the_mode() -> None:
    line = adjustment("target", adjusted(["converted"], original=image(mode="CMYK")))
    assert line == "target converted from JPEG CMYK to JPEG"


def test_a_downscale_names_both_sizes_and_the_limit() -> None:
    sides = {"original": image(width=4400, height=4400), "sent": image(width=4095, height=4095)}
    line = adjustment("target", adjusted(["downscaled"], **sides))
    assert line == "target shrunk from 4400x4400 to 4095x4095 px (the API takes under 4096 px)"


def test_several_changes_are_said_in_one_line() -> None:
    sides = {"original": image(size=9_800_000), "sent": image(size=3_900_000)}
    line = adjustment("target", adjusted(["rotated", "re-encoded"], 6, **sides))
    assert line == (
        "target stored sideways (EXIF orientation 6), turned upright, "
        "re-encoded from 9.8 MB to 3.9 MB (the API takes up to 4 MB)"
    )


def test_a_status_line_counts_calls_and_lists_what_was_done() -> None:
    document = succeeded(adjusted(["rotated"], 6))
    assert status_line(document, None) == (
        "succeeded, source_similarity not sent; 1 API call; "
        "target stored sideways (EXIF orientation 6), turned upright"
    )


def test_a_reused_result_says_no_call_was_made_and_where_it_came_from() -> None:
    document = succeeded(reused_from="demo pair", api=None)
    assert status_line(document, 0.6) == (
        "succeeded, source_similarity 0.6; "
        "no API call: the result of the identical pair 'demo pair' was re-used"
    )


def test_a_failure_names_its_stage_and_code() -> None:
    document = {"status": "failed", "error": {"stage": "api", "code": "ERROR_NO_FACE_IN_FILE"}}
    line = status_line(document, 0.5)
    assert line == "failed at api: ERROR_NO_FACE_IN_FILE (source_similarity 0.5)"
