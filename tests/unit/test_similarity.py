"""Similarity: request > target metadata > template metadata > default; [0, 1] only."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portrait_fusion.core.errors import PreflightError
from portrait_fusion.pairs.similarity import form_value, parse_similarity, resolve_similarity


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


def test_an_invalid_request_value_is_named_as_the_requests() -> None:
    with pytest.raises(PreflightError) as caught:
        resolve_similarity("high", {"source-similarity": "0.5"}, {}, 0.9)
    assert caught.value.message.startswith("source_similarity from the request must be")


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


@pytest.mark.parametrize("blank", ["", " ", "\t"])
def test_blank_target_metadata_falls_through_to_the_template(blank: str) -> None:
    target, template = {"source-similarity": blank}, {"source-similarity": "0.7"}
    assert resolve_similarity(None, target, template, 0.9) == 0.7
    assert resolve_similarity(None, target, {"source-similarity": blank}, 0.9) == 0.9


def test_a_zero_in_the_request_is_a_value_not_an_absence() -> None:
    assert resolve_similarity(0, {"source-similarity": "0.5"}, {}, 0.9) == 0.0
    assert resolve_similarity("0", {"source-similarity": "0.5"}, {}, 0.9) == 0.0


@pytest.mark.parametrize(
    ("value", "number"),
    [(0, 0.0), (1, 1.0), ("0", 0.0), ("1", 1.0), ("1.0", 1.0), (" 0.5\n", 0.5), (1e-07, 1e-07)],
)
def test_both_ends_of_the_range_are_valid(value: object, number: float) -> None:
    assert parse_similarity(value, "the request") == number


@pytest.mark.parametrize("bad", [False, None, {"value": 0.5}, b"0.5", "0.5.1", "1e", "-0.0000001"])
def test_anything_but_a_number_in_range_is_refused_naming_source_and_value(bad: object) -> None:
    with pytest.raises(PreflightError) as caught:
        parse_similarity(bad, "the request")
    assert caught.value.message == (
        f"source_similarity from the request must be a number in [0, 1], got {bad!r}"
    )


@pytest.mark.parametrize(
    ("target", "template", "source"),
    [
        ({"source-similarity": "2"}, {"source-similarity": "0.5"}, "the target's"),
        ({}, {"Source-Similarity": "2"}, "the template's"),
    ],
)
def test_invalid_metadata_names_the_half_and_the_key(
    target: dict[str, str], template: dict[str, str], source: str
) -> None:
    with pytest.raises(PreflightError) as caught:
        resolve_similarity(None, target, template, 0.5)
    assert caught.value.message.startswith(
        f"source_similarity from {source} metadata 'source-similarity' must be"
    )


@pytest.mark.parametrize(
    ("similarity", "field"),
    [
        (1e-07, "0.0000001"),
        (1e-05, "0.00001"),
        (0.0, "0.0"),
        (0.5, "0.5"),
        (1.0, "1.0"),
        (0.1, "0.1"),
        (1 / 3, "0.3333333333333333"),
        (0, "0.0"),
    ],
)
def test_the_form_field_is_a_plain_decimal_that_reads_back_exactly(
    similarity: float, field: str
) -> None:
    assert form_value(similarity) == field
    assert float(field) == similarity


@given(st.floats(min_value=0.0, max_value=1.0))
def test_every_similarity_is_sent_without_exponent_and_round_trips(similarity: float) -> None:
    field = form_value(similarity)
    assert "e" not in field.lower()
    assert float(field) == similarity
