"""The pure parts of the spend and privacy guards: settings, days, fingerprints, lifetimes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from portrait_fusion.api.fusion_api import Upload
from portrait_fusion.aws.erasure import ErasureReport, _input_listing_prefix
from portrait_fusion.core.errors import ConfigurationError
from portrait_fusion.core.settings import (
    DEFAULT_PAIR_PATTERN,
    RECORD_TTL_SECONDS,
    Settings,
    record_ttl_seconds,
)
from portrait_fusion.guards.call_budget import counter_id, seconds_to_next_day, tenant_of
from portrait_fusion.guards.reuse import fingerprint

BASE = {"OUTPUT_BUCKET": "out", "API_KEY_SECRET_ID": "secret", "IDEMPOTENCY_TABLE": "table"}
TENANT_PATTERN = r"^incoming/(?P<tenant>[^/]+)/(?P<pair>[^/]+)/(?P<role>target|template)\.jpg$"


def test_guards_default_to_a_2000_call_budget_reuse_on_and_30_days() -> None:
    settings = Settings.from_env(BASE)
    assert settings.daily_call_budget == 2000
    assert settings.tenant_daily_call_budget == 0
    assert settings.owner_daily_call_budget == 50  # on by default
    assert settings.reuse_identical_results is True
    assert settings.reuse_across_owners is False
    assert settings.result_retention_days == 30


def test_guard_variables_are_read() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "DAILY_CALL_BUDGET": "0",
            "TENANT_DAILY_CALL_BUDGET": "50",
            "PAIR_PATTERN": TENANT_PATTERN,
            "REUSE_IDENTICAL_RESULTS": "false",
            "RESULT_RETENTION_DAYS": "0",
        }
    )
    assert settings.daily_call_budget == 0
    assert settings.tenant_daily_call_budget == 50
    assert settings.reuse_identical_results is False
    assert settings.result_retention_days == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DAILY_CALL_BUDGET", "-1"),
        ("DAILY_CALL_BUDGET", "lots"),
        ("TENANT_DAILY_CALL_BUDGET", "2.5"),
        ("RESULT_RETENTION_DAYS", "4000"),
        ("REUSE_IDENTICAL_RESULTS", "maybe"),
        ("OWNER_DAILY_CALL_BUDGET", "-3"),
        ("OWNER_DAILY_CALL_BUDGET", "many"),
        ("REUSE_ACROSS_OWNERS", "sometimes"),
    ],
)
def test_a_bad_guard_variable_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({**BASE, name: value})


def test_a_tenant_budget_needs_a_tenant_group() -> None:
    with pytest.raises(ConfigurationError, match=r"TENANT_DAILY_CALL_BUDGET.*'tenant'"):
        Settings.from_env({**BASE, "TENANT_DAILY_CALL_BUDGET": "5"})


def test_the_tenant_comes_from_the_pattern_when_it_has_the_group() -> None:
    key = "incoming/acme/p1/target.jpg"
    assert tenant_of(re.compile(TENANT_PATTERN), key) == "acme"
    assert tenant_of(re.compile(DEFAULT_PAIR_PATTERN), key) is None


def test_a_spent_budget_waits_until_the_next_utc_midnight() -> None:
    assert seconds_to_next_day(datetime(2030, 5, 6, 23, 0, tzinfo=UTC)) == 3600
    assert seconds_to_next_day(datetime(2030, 5, 6, 0, 0, tzinfo=UTC)) == 86400
    # Never zero: a pair handed back at midnight still waits a moment
    assert seconds_to_next_day(datetime(2030, 5, 6, 23, 59, 59, 999999, tzinfo=UTC)) == 1.0


def test_counters_are_per_day_and_per_tenant() -> None:
    assert counter_id(date(2030, 1, 2)) == "budget#2030-01-02"
    assert counter_id(date(2030, 1, 2), "acme") == "budget#2030-01-02#tenant#acme"


def test_the_fingerprint_is_the_sent_bytes_and_the_similarity() -> None:
    target, template = Upload("target.jpg", b"abc", "image/jpeg"), Upload("t.png", b"d", "x")
    same = fingerprint(target, template, 0.5)
    renamed = Upload("other-name.jpg", b"abc", "image/jpeg")
    assert fingerprint(renamed, template, 0.5) == same
    assert fingerprint(Upload("target.jpg", b"abd", "image/jpeg"), template, 0.5) != same
    assert fingerprint(target, template, 0.6) != same
    assert fingerprint(target, template, None) != same
    assert fingerprint(template, target, 0.5) != same  # roles matter


def test_idempotency_records_never_outlive_the_results() -> None:
    assert record_ttl_seconds(30) == RECORD_TTL_SECONDS  # a week, within 30 days
    assert record_ttl_seconds(2) == 2 * 86400
    assert record_ttl_seconds(0) == RECORD_TTL_SECONDS  # results kept for ever


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        (DEFAULT_PAIR_PATTERN, "incoming/p1"),
        (TENANT_PATTERN, "incoming/"),  # the tenant comes first: list the whole input prefix
        (r"^up/(?P<pair>.+)_(?P<role>target|template)\.\w+$", "up/p1"),
        (r"^(?:a|b)/(?P<pair>.+)/(?P<role>target|template)\.jpg$", "incoming/"),
    ],
)
def test_erasure_lists_the_narrowest_prefix_the_pattern_allows(pattern: str, prefix: str) -> None:
    assert _input_listing_prefix(pattern, "p1", "incoming/") == prefix


def test_an_erasure_report_says_when_nothing_was_left() -> None:
    assert ErasureReport("p1").lines() == ["pair 'p1': nothing left to erase"]
    report = ErasureReport("p1", objects=["s3://b/k (version 1)"], records=["reuse#ab"])
    assert report.lines() == [
        "pair 'p1': removed 1 object version(s) and 1 record(s)",
        "  object  s3://b/k (version 1)",
        "  record  reuse#ab",
    ]


def test_a_fingerprint_is_scoped_to_its_owner() -> None:
    target, template = (
        Upload("t.jpg", b"face", "image/jpeg"),
        Upload("s.jpg", b"scene", "image/jpeg"),
    )
    shared = fingerprint(target, template, 0.5)
    alice = fingerprint(target, template, 0.5, "owner-a")
    assert len({shared, alice, fingerprint(target, template, 0.5, "owner-b")}) == 3
    assert alice == fingerprint(target, template, 0.5, "owner-a")
