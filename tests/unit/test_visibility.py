"""The hand-back visibility policy: when a message handed back with an error returns."""

from __future__ import annotations

import pytest

from portrait_fusion.core.errors import (
    FusionError,
    InvalidEventError,
    OperationalApiError,
    OutOfTimeError,
    PairInProgressError,
    TransientApiError,
)
from portrait_fusion.entry.visibility import (
    MAX_VISIBILITY_SECONDS,
    QueueLimits,
    VisibilityPolicy,
)

# the template's: 720 s visibility, 4 days' retention, 5 receives
LIMITS = QueueLimits(visibility_timeout_seconds=720, retention_seconds=345_600, max_receive_count=5)
QUICK = QueueLimits(visibility_timeout_seconds=2, retention_seconds=345_600, max_receive_count=3)


def policy(jitter: float) -> VisibilityPolicy:
    return VisibilityPolicy(lambda: jitter)


@pytest.mark.parametrize("error", [PairInProgressError("busy"), OutOfTimeError("late")])
def test_a_pair_in_progress_elsewhere_comes_back_in_seconds(error: Exception) -> None:
    for jitter in (0.0, 0.99):
        seconds = policy(jitter).delay_seconds(error, 1, LIMITS, 0)  # type: ignore[arg-type]
        assert seconds is not None and 5 <= seconds <= 10


def test_transient_faults_back_off_exponentially_by_receive_count() -> None:
    error = TransientApiError("429", code="ERROR_RATE_LIMIT")
    ceilings = [policy(0.999).delay_seconds(error, n, LIMITS, 0) for n in range(1, 9)]
    assert ceilings == [10, 20, 40, 80, 160, 320, 640, 720]  # up to the visibility timeout


def test_transient_backoff_is_jittered_between_half_and_the_full_step() -> None:
    error = TransientApiError("timeout")
    assert policy(0.0).delay_seconds(error, 3, LIMITS, 0) == 20
    assert policy(0.5).delay_seconds(error, 3, LIMITS, 0) == 30


def test_operational_faults_wait_long_and_all_deliveries_fit_in_the_retention() -> None:
    error = OperationalApiError("no credits", code="ERROR_NOT_ENOUGH_CREDITS")
    waits = [
        policy(0.5).delay_seconds(error, n, LIMITS, 0) or 0
        for n in range(1, LIMITS.max_receive_count + 1)
    ]
    assert waits == [720, 1_440, 2_880, 5_760, 11_520]
    assert all(wait <= MAX_VISIBILITY_SECONDS for wait in waits)
    assert sum(waits) < LIMITS.retention_seconds


def test_retry_after_wins_over_the_schedule() -> None:
    error = TransientApiError("429", retry_after=42.2)
    assert policy(0.0).delay_seconds(error, 4, LIMITS, 0) == 43
    held = OperationalApiError("budget spent", retry_after=7_200)
    assert policy(0.0).delay_seconds(held, 1, LIMITS, 0) == 7_200


def test_no_wait_outlives_sqs_ceiling_or_the_message() -> None:
    huge = TransientApiError("429", retry_after=10**9)
    assert policy(0.0).delay_seconds(huge, 1, LIMITS, 0) == MAX_VISIBILITY_SECONDS
    # a message with an hour left comes back within half of it
    old = LIMITS.retention_seconds - 3_600
    assert policy(0.0).delay_seconds(huge, 1, LIMITS, old) == 1_800


def test_a_permanent_error_keeps_the_queues_own_timeout() -> None:
    assert policy(0.0).delay_seconds(InvalidEventError("bad body"), 1, LIMITS, 0) is None


def test_no_scheduled_wait_exceeds_a_short_queue_timeout_but_holds_still_grow() -> None:
    """A queue whose visibility timeout is 2 s (the local stack's tests) retries in seconds."""
    assert policy(0.99).delay_seconds(PairInProgressError("busy"), 1, QUICK, 0) == 2
    assert policy(0.99).delay_seconds(TransientApiError("429"), 5, QUICK, 0) == 2
    held = OperationalApiError("no credits")
    assert [policy(0.0).delay_seconds(held, n, QUICK, 0) for n in (1, 2, 3)] == [2, 4, 8]


def test_operational_waits_are_capped_so_every_delivery_fits_in_the_retention() -> None:
    short = QueueLimits(
        visibility_timeout_seconds=720, retention_seconds=7_200, max_receive_count=4
    )
    held = OperationalApiError("no credits")
    waits = [policy(0.0).delay_seconds(held, n, short, 0) or 0 for n in range(1, 5)]
    assert waits == [720, 1_440, 1_800, 1_800]
    assert sum(waits) < short.retention_seconds


@pytest.mark.parametrize(
    "error",
    [
        PairInProgressError("busy"),
        TransientApiError("429"),
        OperationalApiError("no credits"),
        TransientApiError("429", retry_after=60),
    ],
    ids=["in progress", "transient", "operational", "retry-after"],
)
@pytest.mark.parametrize("age", [LIMITS.retention_seconds, LIMITS.retention_seconds + 60])
def test_a_message_at_or_past_its_retention_comes_back_at_once(
    error: FusionError, age: int
) -> None:
    assert policy(0.5).delay_seconds(error, 2, LIMITS, age) == 0


def test_a_message_a_second_from_its_retention_comes_back_within_that_second() -> None:
    held = OperationalApiError("no credits")
    assert policy(0.5).delay_seconds(held, 1, LIMITS, LIMITS.retention_seconds - 1) == 1


def test_retry_after_zero_means_now() -> None:
    error = TransientApiError("429", retry_after=0)
    assert policy(0.99).delay_seconds(error, 3, LIMITS, 0) == 0


def test_a_fraction_of_a_second_is_rounded_up_not_down() -> None:
    assert policy(0.0).delay_seconds(TransientApiError("429", retry_after=0.01), 1, LIMITS, 0) == 1


def test_a_queue_that_allows_one_delivery_still_keeps_its_one_wait_within_the_retention() -> None:
    once = QueueLimits(visibility_timeout_seconds=720, retention_seconds=3_600, max_receive_count=1)
    held = OperationalApiError("no credits")
    waits = [policy(0.0).delay_seconds(held, n, once, 0) for n in (1, 2, 3)]
    assert waits == [720, 1_440, 1_800]


def test_a_receive_count_of_zero_counts_as_the_first_delivery() -> None:
    error = TransientApiError("timeout")
    first = policy(0.999).delay_seconds(error, 1, LIMITS, 0)
    assert policy(0.999).delay_seconds(error, 0, LIMITS, 0) == first == 10
    held = OperationalApiError("no credits")
    assert policy(0.0).delay_seconds(held, 0, LIMITS, 0) == 720


def test_a_pair_in_progress_waits_five_seconds_plus_jitter() -> None:
    busy = PairInProgressError("busy")
    assert [policy(j).delay_seconds(busy, 4, LIMITS, 0) for j in (0.0, 0.5, 0.99)] == [5, 8, 10]


def test_operational_waits_reach_but_never_pass_sqs_ceiling() -> None:
    long_lived = QueueLimits(
        visibility_timeout_seconds=720, retention_seconds=1_209_600, max_receive_count=10
    )
    held = OperationalApiError("no credits")
    waits = [policy(0.0).delay_seconds(held, n, long_lived, 0) for n in (6, 7, 10)]
    assert waits == [23_040, MAX_VISIBILITY_SECONDS, MAX_VISIBILITY_SECONDS]
