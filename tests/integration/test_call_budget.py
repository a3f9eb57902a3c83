"""The daily call budget on moto's DynamoDB and the HTTPS emulator.

Each `Environment` is one Lambda execution environment: the function's own object graph
(`build_app`, unpatched) with a clock the test sets, so "the next UTC day" comes when the
test says. Every test uses a day of its own, so counters never meet.
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from local_stack.lambda_runtime import LambdaContext, sqs_event
from portrait_fusion.core.errors import Disposition
from portrait_fusion.core.observability import metrics
from portrait_fusion.core.settings import Settings
from portrait_fusion.entry.bootstrap import build_app
from portrait_fusion.guards.call_budget import BudgetExhaustedError, counter_id
from portrait_fusion.pipeline.pipeline import Invocation
from portrait_fusion.results.result_document import FunctionInfo
from tests import images
from tests.atomic_dynamodb import atomic_dynamodb  # noqa: F401 - a fixture
from tests.harness import Buckets, unique_pair

_days = itertools.count()


def a_day_of_its_own() -> datetime:
    """Noon on a day no other test uses (nor the days after it that a test moves on to)."""
    return datetime(2031, 3, 1, 12, tzinfo=UTC) + timedelta(days=10 * next(_days))


class Clock:
    """What the function believes the time is."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Environment:
    """One execution environment of the function, configured from the environment."""

    def __init__(self, clock: Clock) -> None:
        self.app = build_app(Settings.from_env(os.environ), clock)

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext.create(timeout_s=120)
        self.app.guard.register_context(context)
        invocation = Invocation(
            FunctionInfo(context.function_name, "$LATEST", context.aws_request_id),
            seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
        )
        return self.app.entrypoints.handle(event, invocation)


def upload_pair(buckets: Buckets, pair_id: str, number: int = 0) -> None:
    # A different target per pair: none is a re-use of another.
    buckets.upload(pair_id, "target", images.as_jpeg(quality=80 + number))
    buckets.upload(pair_id, "template", images.as_png())


def pair_event(stack: LocalStack, pair_id: str) -> dict[str, Any]:
    return {"pair": f"s3://{stack.input_bucket}/incoming/{pair_id}/"}


def spent(stack: LocalStack, dynamodb: Any, day: datetime, tenant: str | None = None) -> int:
    item = dynamodb.get_item(
        TableName=stack.table_name, Key={"id": {"S": counter_id(day.date(), tenant)}}
    ).get("Item")
    return int(item["spent"]["N"]) if item else 0


@pytest.fixture
def dynamodb(stack: LocalStack) -> Any:

    return stack.client("dynamodb")


@pytest.mark.usefixtures("atomic_dynamodb")
def test_many_environments_racing_for_a_small_budget_spend_exactly_the_budget(
    configure: Any, stack: LocalStack, buckets: Buckets, emulator: FusionEmulator, dynamodb: Any
) -> None:
    budget, environments = 3, 8
    configure(DAILY_CALL_BUDGET=str(budget))
    # Calls that last long enough for all eight environments to be calling at once.
    emulator.set_faults(Faults(latency_ms=300))
    clock = Clock(a_day_of_its_own())
    pairs = [unique_pair("race") for _ in range(environments)]
    for number, pair_id in enumerate(pairs):
        upload_pair(buckets, pair_id, number)
    start = threading.Barrier(environments)

    def run(pair_id: str) -> dict[str, Any] | BudgetExhaustedError:
        environment = Environment(clock)
        start.wait()
        try:
            return environment.handle(pair_event(stack, pair_id))
        except BudgetExhaustedError as exc:
            return exc

    with ThreadPoolExecutor(environments) as pool:
        outcomes = list(pool.map(run, pairs))

    merged = [o for o in outcomes if isinstance(o, dict) and o["status"] == "succeeded"]
    waiting = [o for o in outcomes if isinstance(o, BudgetExhaustedError)]
    print(f"\nrace: {environments} environments, budget {budget}: {emulator.stats()}")
    assert emulator.stats()["billed"] == budget  # paid calls (HTTP 200s), counted by the API
    assert emulator.stats()["merges"] == budget
    assert emulator.stats()["max_in_flight"] > 1  # the environments really did race
    assert len(merged) == budget
    assert len(waiting) == environments - budget
    assert spent(stack, dynamodb, clock.now) == budget
    for error in waiting:
        assert error.disposition is Disposition.HOLD
        assert error.code == "DAILY_CALL_BUDGET_EXHAUSTED"
        assert error.retry_after == pytest.approx(12 * 3600)  # noon to midnight
        assert "3 paid calls" in error.message


def test_a_pair_waiting_on_the_budget_completes_the_next_day(
    configure: Any, stack: LocalStack, buckets: Buckets, emulator: FusionEmulator, sqs: Any
) -> None:
    configure(DAILY_CALL_BUDGET="1")
    clock = Clock(a_day_of_its_own())
    environment = Environment(clock)
    first, second = unique_pair("today"), unique_pair("tomorrow")
    upload_pair(buckets, first, 1)
    environment.handle(pair_event(stack, first))
    metrics.clear_metrics()
    # Given today's budget is spent, a pair delivered through the queue waits
    upload_pair(buckets, second, 2)
    messages = _receive_all(sqs, stack)
    handed_back = environment.handle(sqs_event(messages, queue_arn=stack.queue_arn))
    assert {f["itemIdentifier"] for f in handed_back["batchItemFailures"]} == {
        m["MessageId"] for m in messages if second in m["Body"]
    }
    assert buckets.document(second) is None
    # Both halves share one run in the batch: one pair counted once
    assert metrics.metric_set["BudgetExhausted"]["Value"] == [1.0]
    metrics.clear_metrics()
    assert emulator.stats()["merges"] == 1
    # When the next UTC day comes, the same messages are delivered again
    clock.now += timedelta(days=1)
    again = environment.handle(sqs_event(messages, queue_arn=stack.queue_arn))
    # Then the pair is merged
    assert again["batchItemFailures"] == []
    assert buckets.wait_for_document(second)["status"] == "succeeded"
    assert emulator.stats()["merges"] == 2


def test_calls_that_were_not_billed_give_their_unit_back(
    configure: Any, stack: LocalStack, buckets: Buckets, emulator: FusionEmulator, dynamodb: Any
) -> None:
    configure(DAILY_CALL_BUDGET="1", API_MAX_ATTEMPTS="4")
    clock = Clock(a_day_of_its_own())
    # Two 503s (not billed), then a 200 (billed): one unit spent, and the budget of 1 is enough.
    emulator.set_faults(Faults(script=("AI_SERVICE_FLOW_RESTRICTION",) * 2))
    pair_id = unique_pair("unbilled")
    upload_pair(buckets, pair_id, 3)
    document = Environment(clock).handle(pair_event(stack, pair_id))
    assert document["status"] == "succeeded"
    assert document["api"]["attempts"] == 3
    assert spent(stack, dynamodb, clock.now) == 1


def test_a_tenant_budget_caps_each_tenant_on_its_own(
    configure: Any, stack: LocalStack, buckets: Buckets, emulator: FusionEmulator, dynamodb: Any
) -> None:
    pattern = (
        r"^incoming/(?P<pair>(?P<tenant>[a-z]+)-[^/]+)/"
        r"(?i:(?P<role>target|template))\.(?i:jpe?g|png)$"
    )
    configure(PAIR_PATTERN=pattern, DAILY_CALL_BUDGET="10", TENANT_DAILY_CALL_BUDGET="1")
    clock = Clock(a_day_of_its_own())
    environment = Environment(clock)
    acme = [unique_pair("acme"), unique_pair("acme")]
    globex = unique_pair("globex")
    for number, pair_id in enumerate([*acme, globex]):
        upload_pair(buckets, pair_id, 10 + number)
    assert environment.handle(pair_event(stack, acme[0]))["status"] == "succeeded"
    with pytest.raises(BudgetExhaustedError, match="tenant 'acme'"):
        environment.handle(pair_event(stack, acme[1]))
    assert environment.handle(pair_event(stack, globex))["status"] == "succeeded"
    assert emulator.stats()["merges"] == 2
    # The refused call took nothing from the shared budget either
    assert spent(stack, dynamodb, clock.now) == 2
    assert spent(stack, dynamodb, clock.now, "acme") == 1


def _receive_all(sqs: Any, stack: LocalStack) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while got := sqs.receive_message(
        QueueUrl=stack.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages"):
        messages += got
    return messages
