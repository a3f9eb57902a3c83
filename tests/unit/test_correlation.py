"""The pair's correlation id: the target's `correlation-id` metadata unless it is not a usable id
(empty, over 128 characters, or anything but printable ASCII), then the template's; an ignored
value is logged as a warning naming the half and what is wrong with it."""

from __future__ import annotations

import logging

import pytest

from portrait_fusion.pairs.correlation import correlation_id


def ignored(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    """What each warning about an ignored correlation id said: role, problem, length."""
    return [
        {"role": r.role, "problem": r.problem, "length": r.length}  # type: ignore[attr-defined]
        for r in caplog.records
        if r.levelno == logging.WARNING and r.getMessage() == "correlation-id metadata ignored"
    ]


@pytest.mark.parametrize(
    "value", [" ", "~", " leading and trailing ~", "".join(map(chr, range(32, 127)))]
)
def test_every_printable_ascii_character_is_allowed_up_to_both_ends(value: str) -> None:
    assert correlation_id({"correlation-id": value}, {}) == value


@pytest.mark.parametrize("outside", ["\x1f", "\x7f", "\n", "\x00", "é", "\u2028"])
def test_a_character_just_outside_printable_ascii_makes_the_target_fall_back(
    outside: str, caplog: pytest.LogCaptureFixture
) -> None:
    value = f"order{outside}1"
    assert correlation_id({"correlation-id": value}, {"correlation-id": "p-1"}) == "p-1"
    assert ignored(caplog) == [
        {
            "role": "target",
            "problem": "it holds a character outside printable ASCII",
            "length": len(value),
        }
    ]


def test_128_characters_is_the_longest_id_kept() -> None:
    assert correlation_id({}, {"correlation-id": "~" * 128}) == "~" * 128


def test_an_id_over_128_characters_is_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert correlation_id({"correlation-id": "x" * 129}, {}) is None
    assert ignored(caplog) == [
        {"role": "target", "problem": "it is longer than 128 characters", "length": 129}
    ]


def test_an_empty_id_is_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert correlation_id({"correlation-id": ""}, {"correlation-id": "p-1"}) == "p-1"
    assert ignored(caplog) == [{"role": "target", "problem": "it is empty", "length": 0}]


def test_an_ignored_template_id_is_logged_as_the_templates(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert correlation_id({}, {"correlation-id": "bad\tid"}) is None
    assert ignored(caplog) == [
        {
            "role": "template",
            "problem": "it holds a character outside printable ASCII",
            "length": 6,
        }
    ]


def test_both_ids_ignored_log_one_warning_each(caplog: pytest.LogCaptureFixture) -> None:
    assert correlation_id({"correlation-id": ""}, {"correlation-id": "x" * 200}) is None
    assert [entry["role"] for entry in ignored(caplog)] == ["target", "template"]


def test_a_valid_target_id_is_used_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert correlation_id({"correlation-id": "t-1"}, {"correlation-id": ""}) == "t-1"
    assert ignored(caplog) == []


def test_other_metadata_is_not_an_id() -> None:
    assert correlation_id({"correlation": "t-1", "x-correlation-id": "t-2"}, {}) is None
