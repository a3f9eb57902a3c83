"""Similarity: request > target metadata > template metadata > default; [0, 1] only."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portrait_fusion.core.errors import PreflightError
from portrait_fusion.pairs.similarity import parse_similarity, resolve_similarity


def test_request_wins_over_metadata_and_default() -> None:
    assert (
        resolve_similarity(0.2, {"source-similarity": "0.5"}, {"source-similarity": "0.7"}, 0.9)
        == 0.2
    )


def test_target_metadata_wins_over_template_metadata() -> None:
    assert (
        resolve_similarity(None, {"source-similarity": "0.5"}, {"source-similarity": "0.7"}, 0.9)
        == 0.5
    )


def test_template_metadata_then_default_then_nothing() -> None:
    assert resolve_similarity(None, {}, {"source-similarity": "0.7"}, 0.9) == 0.7
    assert resolve_similarity(None, {}, {}, 0.9) == 0.9
    assert resolve_similarity(None, {}, {}, None) is None


def test_metadata_key_is_matched_in_any_case() -> None:
    assert resolve_similarity(None, {"Source-Similarity": " 0.25 "}, {}, None) == 0.25


@pytest.mark.parametrize("bad", ["abc", "-0.1", "1.5", "NaN", "inf", True, [0.5], ""])
def test_invalid_values_fail_before_any_call(bad: object) -> None:
    if bad == "":
        # An empty request value means "not given", not "invalid"
        assert resolve_similarity(bad, {}, {}, None) is None
        return
    with pytest.raises(PreflightError) as caught:
        parse_similarity(bad, "the request")
    assert caught.value.code == "ERROR_INVALID_PARAMETER"
    assert "the request" in caught.value.message


def test_invalid_metadata_names_where_it_came_from() -> None:
    with pytest.raises(PreflightError, match="template's metadata"):
        resolve_similarity(None, {}, {"source-similarity": "high"}, None)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_is_accepted_exactly_when_in_range(value: float) -> None:
    if 0.0 <= value <= 1.0:
        assert parse_similarity(value, "x") == value
        assert parse_similarity(repr(value), "x") == value
    else:
        with pytest.raises(PreflightError):
            parse_similarity(value, "x")
    assert not math.isnan(resolve_similarity(None, {}, {}, 0.5) or 0)
