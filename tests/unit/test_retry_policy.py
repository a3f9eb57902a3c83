"""The provider's backoff (about 1, 2, 4, 8 s, jittered) and `Retry-After` in both forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from portrait_fusion.api.retry_policy import Backoff, parse_retry_after

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("failures", "step"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (7, 8.0)])
def test_each_delay_stays_within_a_fifth_of_its_step(failures: int, step: float) -> None:
    backoff = Backoff()
    low, high = backoff.delay(failures, 0.0), backoff.delay(failures, 0.999999)
    assert low == pytest.approx(0.8 * step)
    assert high == pytest.approx(1.2 * step, rel=1e-5)
    assert backoff.delay(failures, 0.5) == pytest.approx(step)


def test_jitter_spreads_the_delays() -> None:
    delays = {Backoff().delay(2, jitter) for jitter in (0.0, 0.25, 0.5, 0.75)}
    assert len(delays) == 4


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("Tue, 01 Dec 2026 12:00:30 GMT", 30.0),
        ("Tuesday, 01-Dec-26 12:01:00 GMT", 60.0),  # the obsolete RFC 850 form
        ("Tue, 01 Dec 2026 11:59:00 GMT", 0.0),  # a date in the past: no wait
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=lambda: NOW) == seconds


@pytest.mark.parametrize("header", [None, "", "soon", "-5", "1.5", "Tue, 99 Foo 2026"])
def test_an_unreadable_retry_after_is_ignored(header: str | None) -> None:
    assert parse_retry_after(header, now=lambda: NOW) is None


@pytest.mark.parametrize(
    "header",
    [
        "Tue, 01 Dec 2026 12:00:30",  # no zone: RFC 9110 dates are GMT
        "Tue, 01 Dec 2026 12:00:30 -0000",  # "-0000": no zone information, read as GMT too
        "Tue, 01 Dec 2026 13:00:30 +0100",
        "Tue, 01 Dec 2026 07:00:30 -0500",
        "Tue, 01 Dec 2026 12:00:30 UT",
    ],
)
def test_an_http_date_in_any_zone_or_none_is_the_same_moment(header: str) -> None:
    assert parse_retry_after(header, now=lambda: NOW) == 30.0


def test_a_wait_is_rounded_up_to_the_millisecond_never_down() -> None:
    just_after = NOW.replace(microsecond=400)
    assert parse_retry_after("Tue, 01 Dec 2026 12:00:30 GMT", now=lambda: just_after) == 30.0
    late = NOW.replace(microsecond=999_600)
    assert parse_retry_after("Tue, 01 Dec 2026 12:00:30 GMT", now=lambda: late) == 29.001


def test_without_a_clock_an_http_date_is_measured_from_now() -> None:
    # Without an injected clock the wait is measured from the real time: a date a day
    # ahead of it is about a day away, one a day behind it is no wait at all.
    ahead = datetime.now(UTC) + timedelta(days=1)
    seconds = parse_retry_after(format_datetime(ahead, usegmt=True))
    assert seconds is not None and 86_390 <= seconds <= 86_400
    behind = datetime.now(UTC) - timedelta(days=1)
    assert parse_retry_after(format_datetime(behind, usegmt=True)) == 0.0


def test_delay_seconds_may_be_any_size() -> None:
    assert parse_retry_after("86400", now=lambda: NOW) == 86_400.0


def test_a_custom_backoff_keeps_its_base_cap_and_jitter() -> None:
    backoff = Backoff(base_seconds=0.5, cap_seconds=3.0, jitter_share=0.5)
    assert [backoff.delay(n, 0.5) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    assert backoff.delay(3, 0.0) == 1.0
    assert backoff.delay(3, 0.75) == 2.5
