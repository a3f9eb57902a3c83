"""Reading event keys in each source's encoding and resolving them against the bucket."""

from __future__ import annotations

import re

import pytest

from portrait_fusion.aws.storage import ObjectRef
from portrait_fusion.pairs.pairing import PairNaming
from portrait_fusion.pipeline.key_resolution import (
    FoundObject,
    KeyEncoding,
    KeyResolver,
    Listing,
    ReportedObject,
)

NAMING = PairNaming(re.compile(r"^incoming/(?P<pair>.+)/(?P<role>target|template)\.jpg$"))


class FakeBucket:
    """An `ObjectLookup` over a set of keys (and their versions), recording every request."""

    def __init__(self, *keys: str, versions: dict[str, set[str]] | None = None) -> None:
        self.keys = set(keys)
        self.versions = versions or {}
        self.listed: list[str] = []
        self.looked_up: list[ObjectRef] = []

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        self.listed.append(prefix)
        return sorted(k for k in self.keys if k.startswith(prefix))

    def exists(self, ref: ObjectRef) -> bool:
        self.looked_up.append(ref)
        if ref.key not in self.keys:
            return False
        return ref.version_id is None or ref.version_id in self.versions.get(ref.key, set())


@pytest.mark.parametrize(
    ("encoding", "raw", "readings"),
    [
        (KeyEncoding.FORM, "a+b%2Bc", ["a b+c", "a+b+c", "a+b%2Bc"]),
        (KeyEncoding.PERCENT, "a+b%2Bc", ["a+b+c", "a b+c", "a+b%2Bc"]),
        (KeyEncoding.UNSPECIFIED, "a+b", ["a b", "a+b"]),
        (KeyEncoding.FORM, "plain", ["plain"]),
    ],
)
def test_readings_put_the_documented_decoding_first(
    encoding: KeyEncoding, raw: str, readings: list[str]
) -> None:
    reported = ReportedObject("b", raw, encoding)
    assert reported.readings() == readings
    assert reported.key == readings[0]


def test_the_documented_reading_wins_when_it_is_there() -> None:
    bucket = FakeBucket("incoming/a b/target.jpg", "incoming/a+b/target.jpg")
    found = KeyResolver(bucket, NAMING).resolve(
        ReportedObject("b", "incoming/a+b/target.jpg", KeyEncoding.FORM)
    )
    assert found is not None
    assert found.ref == ObjectRef("b", "incoming/a b/target.jpg")


def test_a_raw_eventbridge_key_is_found_by_its_second_reading() -> None:
    bucket = FakeBucket("incoming/a+b/target.jpg")
    found = KeyResolver(bucket, NAMING).resolve(
        ReportedObject("b", "incoming/a+b/target.jpg", KeyEncoding.UNSPECIFIED)
    )
    assert found is not None
    assert found.ref == ObjectRef("b", "incoming/a+b/target.jpg")


def test_a_missing_object_resolves_to_nothing() -> None:
    bucket = FakeBucket()
    reported = ReportedObject("b", "incoming/x/target.jpg", KeyEncoding.FORM)
    assert KeyResolver(bucket, NAMING).resolve(reported) is None


def test_a_pinned_version_is_looked_up_and_kept() -> None:
    key = "incoming/x/target.jpg"
    bucket = FakeBucket(key, versions={key: {"v1"}})
    resolver = KeyResolver(bucket, NAMING)
    pinned = resolver.resolve(ReportedObject("b", key, KeyEncoding.PERCENT, "v1"))
    assert pinned is not None
    assert pinned.ref == ObjectRef("b", key, "v1")
    assert resolver.resolve(ReportedObject("b", key, KeyEncoding.PERCENT, "v2")) is None


def test_a_key_outside_the_naming_convention_is_not_looked_up() -> None:
    bucket = FakeBucket()
    found = KeyResolver(bucket, NAMING).resolve(ReportedObject("b", "notes.txt", KeyEncoding.FORM))
    assert found == FoundObject(ObjectRef("b", "notes.txt"))
    assert bucket.listed == [] and bucket.looked_up == []


def test_one_listing_of_the_pair_folder_finds_the_key_and_is_handed_on() -> None:
    # A form-encoded key whose readings all lie in one pair folder: that folder is listed
    # once, and the listing (with the partner in it) comes back for the pair resolver.
    bucket = FakeBucket("incoming/p/target.jpg", "incoming/p/template.jpg", "incoming/q/x")
    found = KeyResolver(bucket, NAMING).resolve(
        ReportedObject("b", "incoming/p/template.jpg", KeyEncoding.FORM)
    )
    assert found is not None
    assert bucket.listed == ["incoming/p"]
    assert found.listing == Listing(
        "b", "incoming/p", ("incoming/p/target.jpg", "incoming/p/template.jpg")
    )
