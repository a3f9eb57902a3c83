"""The throttling bucket on a hand-driven clock."""

from __future__ import annotations

from local_stack.token_bucket import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_takes_the_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=2, burst=3, clock=Clock())
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_tokens_come_back_at_the_rate_up_to_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    while bucket.take():
        pass
    clock.now += 0.4  # 0.8 of a token
    assert not bucket.take()
    clock.now += 0.1
    assert bucket.take()
    assert not bucket.take()
    clock.now += 60  # a long pause refills to the burst, not beyond
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
