"""The provider's backoff (about 1, 2, 4, 8 s, jittered) and `Retry-After` in both forms."""

from __future__ import annotations

from datetime import UTC, datetime

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
