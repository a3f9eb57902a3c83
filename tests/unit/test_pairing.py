"""Pairing: the naming convention over decoded keys (hypothesis over awkward keys)."""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portrait_fusion.core.errors import PairingError
from portrait_fusion.core.settings import DEFAULT_PAIR_PATTERN
from portrait_fusion.pairs.pairing import (
    PairNaming,
    Role,
    decode_batch_key,
    decode_notification_key,
)

NAMING = PairNaming(re.compile(DEFAULT_PAIR_PATTERN))
UPLOADS = PairNaming(re.compile(r"^uploads/(?P<pair>.+)[._-](?P<role>target|template)\.\w+$"))

segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/"),
    min_size=1,
    max_size=12,
)
pair_ids = st.lists(segment, min_size=1, max_size=10).map("/".join)
extensions = st.sampled_from(["jpg", "JPG", "jpeg", "Jpeg", "png", "PNG", "bmp"])
roles = st.sampled_from(["target", "TARGET", "Target", "template", "Template"])


@given(pair_id=pair_ids, role=roles, ext=extensions)
def test_any_pair_id_round_trips_through_an_s3_notification(
    pair_id: str, role: str, ext: str
) -> None:
    # Given a key as S3 would URL-encode it in a notification (spaces as +, unicode as %XX)
    key = f"incoming/{pair_id}/{role}.{ext}"
    encoded = quote_plus(key, safe="/")
    # When it is decoded and parsed
    half = NAMING.parse(decode_notification_key(encoded))
    # Then the pair id and role come back exactly
    assert half is not None
    assert half.pair_id == pair_id
    assert half.role is Role(role.lower())
    assert key.startswith(half.listing_prefix)


@given(pair_id=pair_ids, first=extensions, second=extensions, target_first=st.booleans())
def test_both_halves_assemble_in_either_order(
    pair_id: str, first: str, second: str, target_first: bool
) -> None:
    target, template = f"incoming/{pair_id}/target.{first}", f"incoming/{pair_id}/template.{second}"
    listing = [target, template] if target_first else [template, target]
    pair = NAMING.assemble(pair_id, listing)
    assert pair is not None
    assert (pair.target, pair.template) == (target, template)


def test_moto_style_slash_encoding_is_decoded() -> None:
    assert decode_notification_key("incoming%2Fabc%2Ftarget.jpg") == "incoming/abc/target.jpg"


def test_plus_and_percent_plus_decode_differently() -> None:
    assert decode_notification_key("incoming/a+b/target.jpg") == "incoming/a b/target.jpg"
    assert decode_notification_key("incoming/a%2Bb/target.jpg") == "incoming/a+b/target.jpg"
    assert decode_notification_key("incoming/caf%C3%A9/target.jpg") == "incoming/café/target.jpg"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        # A percent-encoding may leave `+` as it is (RFC 3986 allows it in a path)...
        ("incoming/my%20pair+1/target.jpg", "incoming/my pair+1/target.jpg"),
        # ... or encode it; either way `+` is a plus, never a space as a form reading makes it.
        ("incoming/my%20pair%2B1/target.jpg", "incoming/my pair+1/target.jpg"),
        ("incoming/a+b+c/target.jpg", "incoming/a+b+c/target.jpg"),
    ],
)
def test_batch_operations_keys_are_percent_decoded_not_form_decoded(raw: str, key: str) -> None:
    assert raw == quote(key, safe="/+") or raw == quote(key, safe="/")
    assert decode_batch_key(raw) == key


@pytest.mark.parametrize(
    "key",
    [
        "incoming/abc/target.gif",
        "incoming/target.jpg",
        "results/abc/target.jpg",
        "incoming/abc/targets.jpg",
        "incoming/abc/result.json",
        "incoming//target.jpg",
    ],
)
def test_keys_outside_the_convention_are_not_halves(key: str) -> None:
    assert NAMING.parse(key) is None


def test_nested_ids_do_not_mix_with_their_parent_pair() -> None:
    listing = ["incoming/a/target.jpg", "incoming/a/b/template.png", "incoming/ab/template.png"]
    assert NAMING.assemble("a", listing) is None
    pair = NAMING.assemble("a/b", [*listing, "incoming/a/b/target.JPG"])
    assert pair is not None
    assert pair.target == "incoming/a/b/target.JPG"


def test_two_candidates_for_one_role_is_an_ambiguous_pair() -> None:
    listing = ["incoming/x/target.jpg", "incoming/x/target.png", "incoming/x/template.png"]
    with pytest.raises(PairingError) as caught:
        NAMING.assemble("x", listing)
    assert caught.value.code == "ERROR_AMBIGUOUS_PAIR"
    assert "incoming/x/target.jpg" in caught.value.message


def test_a_lone_half_is_not_a_pair() -> None:
    assert NAMING.assemble("x", ["incoming/x/target.jpg"]) is None


def test_a_custom_convention_works_the_same_way() -> None:
    half = UPLOADS.parse("uploads/2024/shoot-7_target.jpg")
    assert half is not None
    assert (half.pair_id, half.role) == ("2024/shoot-7", Role.TARGET)
    pair = UPLOADS.assemble(
        "2024/shoot-7",
        [
            "uploads/2024/shoot-7_target.jpg",
            "uploads/2024/shoot-7.template.png",
            "uploads/2024/shoot-77_template.png",
        ],
    )
    assert pair is not None
    assert pair.template == "uploads/2024/shoot-7.template.png"


def test_role_partner() -> None:
    assert Role.TARGET.partner is Role.TEMPLATE
    assert Role.TEMPLATE.partner is Role.TARGET


def test_a_custom_convention_that_lets_the_pair_id_be_empty_still_needs_one() -> None:
    # A user's pattern may allow an empty `pair` group: such a key belongs to no pair.
    loose = PairNaming(re.compile(r"^drop/(?P<pair>[^/]*)/?(?P<role>target|template)\.jpg$"))
    assert loose.parse("drop/target.jpg") is None
    half = loose.parse("drop/a/target.jpg")
    assert half is not None
    assert (half.pair_id, half.listing_prefix) == ("a", "drop/a")


def test_an_ambiguous_pair_lists_every_candidate_and_how_many() -> None:
    listing = ["incoming/x/Template.PNG", "incoming/x/template.jpg", "incoming/x/target.jpg"]
    with pytest.raises(PairingError) as caught:
        NAMING.assemble("x", listing)
    assert caught.value.message == (
        "pair 'x' is ambiguous: 2 template objects "
        "(incoming/x/Template.PNG, incoming/x/template.jpg); keep exactly one"
    )
