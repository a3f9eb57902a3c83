"""Builds the function's object graph once per execution environment (cold start).

boto3 clients are created on first use: a lone half never touches DynamoDB or Secrets
Manager, and creating a client costs tens of milliseconds.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from portrait_fusion.api.api_key import ApiKeyProvider
from portrait_fusion.api.call_slot import CallSlot
from portrait_fusion.api.fusion_api import FusionApiClient, new_session
from portrait_fusion.api.paid_calls import DynamoDBPaidCallMarks
from portrait_fusion.aws.erasure import PairLocations, discard_inputs
from portrait_fusion.aws.pair_records import PairRecords
from portrait_fusion.aws.storage import S3Storage
from portrait_fusion.core.settings import Settings
from portrait_fusion.entry.entrypoints import SQS_WORKERS, EntryPoints
from portrait_fusion.entry.hand_back import HandBack
from portrait_fusion.entry.message_feed import pull_threshold
from portrait_fusion.entry.sqs_queues import SqsQueues
from portrait_fusion.entry.visibility import VisibilityPolicy
from portrait_fusion.entry.warm_up import WarmUp
from portrait_fusion.guards.api_pairs import DynamoDBApiPairs
from portrait_fusion.guards.call_budget import Clock, DynamoDBCallBudget, utc_now
from portrait_fusion.guards.idempotency import GuardedRun, IdempotencyGuard
from portrait_fusion.guards.reuse import DynamoDBResultReuse
from portrait_fusion.images import image_decoding
from portrait_fusion.partners.partner_sweep import PartnerSweep
from portrait_fusion.partners.pending_partners import PendingPartners
from portrait_fusion.pipeline.key_resolution import KeyResolver
from portrait_fusion.pipeline.pipeline import Pipeline
from portrait_fusion.results.completion_events import EventBridgePublisher, EventPublisher, NoEvents

T = TypeVar("T")


def lazy(factory: Callable[[], T]) -> Callable[[], T]:
    """A thread-safe, build-once accessor for `factory()`."""
    lock = threading.Lock()
    built: list[T] = []

    def get() -> T:
        if not built:
            with lock:
                if not built:
                    built.append(factory())
        return built[0]

    return get


_SESSION_LOCK = threading.Lock()


@cache
def _boto3_session() -> Any:
    import boto3

    return boto3.session.Session()


def _client(service: str) -> Callable[[], Any]:
    def build() -> Any:
        from botocore.config import Config

        # AWS_ENDPOINT_URL (standard) points these at the local stack when set.
        config = Config(
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=4,
            connect_timeout=5,
            read_timeout=30,
        )
        # A boto3 Session is not thread-safe (its clients are): two messages of a batch may
        # each be the first to need a client.
        with _SESSION_LOCK:
            return _boto3_session().client(service, config=config)

    return lazy(build)


@dataclass(frozen=True)
class App:
    """What the handler needs: the entry points, the guard to tell about each invocation,
    and what makes a new execution environment ready ahead of its first pair."""

    entrypoints: EntryPoints
    guard: IdempotencyGuard
    warm_up: WarmUp


def build_app(settings: Settings, clock: Clock = utc_now) -> App:
    """Wire real adapters: S3, Secrets Manager, DynamoDB and the face-fusion API (`clock`
    tells the call budget and re-use records what day it is)."""
    from portrait_fusion.core.settings import record_ttl_seconds
    from portrait_fusion.guards.idempotency import DynamoDBIdempotencyGuard

    secrets = _client("secretsmanager")
    keys = ApiKeyProvider(secrets, settings.api_key_secret_id, settings.secret_max_age_seconds)
    dynamodb = _client("dynamodb")
    ttl = record_ttl_seconds(settings.result_retention_days)
    session = new_session()
    budget = None
    if (
        settings.daily_call_budget
        or settings.tenant_daily_call_budget
        or settings.owner_daily_call_budget
    ):
        budget = DynamoDBCallBudget(
            settings.idempotency_table,
            dynamodb,
            daily_cap=settings.daily_call_budget,
            tenant_cap=settings.tenant_daily_call_budget,
            owner_cap=settings.owner_daily_call_budget,
            clock=clock,
        )
    # Two pairs of a batch at a time, each reading its template, preflighting and reading
    # ahead for its API call beside its other work.
    pair_io = ThreadPoolExecutor(max_workers=6, thread_name_prefix="pair-io")
    slot = CallSlot()  # this environment's one API call in flight
    api = FusionApiClient(
        session,
        settings.fusion_api_url,
        keys,
        timeout_seconds=settings.api_timeout_seconds,
        max_attempts=settings.api_max_attempts,
        marks=DynamoDBPaidCallMarks(settings.idempotency_table, dynamodb, ttl),
        executor=pair_io,
        slot=slot,
        allowance=budget,
    )
    guard = _LazyIdempotencyGuard(
        lambda: DynamoDBIdempotencyGuard(settings.idempotency_table, dynamodb(), ttl)
    )
    s3 = _client("s3")
    events = _client("events")
    storage = S3Storage(s3)
    reuse = None
    if settings.reuse_identical_results:
        reuse = DynamoDBResultReuse(
            settings.idempotency_table,
            dynamodb,
            storage,
            retention_days=settings.result_retention_days,
            clock=clock,
        )
    pipeline = Pipeline(
        settings,
        storage,
        api,
        guard,
        pair_io,
        reuse=reuse,
        events=completion_publisher(settings, events),
        pending=PendingPartners(s3, settings.output_bucket, settings.partner_timeout_minutes),
        api_pairs=api_pairs(settings, dynamodb, s3),
    )
    batch = ThreadPoolExecutor(max_workers=SQS_WORKERS, thread_name_prefix="sqs-message")
    resolver = KeyResolver(storage, pipeline.naming)
    sqs = _client("sqs")
    queues = SqsQueues(sqs)
    hand_back = HandBack(queues, VisibilityPolicy(random.random))
    # In the order a pair meets them: its S3 reads, its preflight (the image stack) beside its
    # idempotency write (DynamoDB, Powertools), the key's read, the next message pulled while
    # its call is in flight, its completion event.
    publishing = [events] if settings.event_bus_name else []
    clients = [s3, dynamodb, secrets, sqs, *publishing]
    steps = [s3, image_decoding.preload, dynamodb, guard.layer, secrets, sqs, *publishing]
    warm_up = WarmUp(steps, clients, keys, session, settings.fusion_api_url)
    pull = queues if settings.pull_from_queue else None
    entrypoints = EntryPoints(
        pipeline,
        batch,
        resolver,
        hand_back,
        pull,
        slot,
        pull_seconds=pull_threshold(settings.api_timeout_seconds),
    )
    return App(entrypoints, guard, warm_up)


def api_pairs(
    settings: Settings, dynamodb: Callable[[], Any], s3: Callable[[], Any]
) -> DynamoDBApiPairs:
    """The Pair API's pair records, and the removal of an erased pair's uploads."""

    def discard(pair_id: str, bucket: str) -> list[str]:
        where = PairLocations(
            input_bucket=bucket,
            output_bucket=settings.output_bucket,
            table=settings.idempotency_table,
            input_prefix=settings.input_prefix,
            output_prefix=settings.output_prefix,
            pair_pattern=settings.pair_pattern.pattern,
        )
        return discard_inputs(pair_id, where, s3=s3())

    return DynamoDBApiPairs(PairRecords(settings.idempotency_table, dynamodb), discard)


def completion_publisher(
    settings: Settings, client: Callable[[], Any] | None = None
) -> EventPublisher:
    """Completion events on EVENT_BUS_NAME (through `client`, else a new one); none when it
    is empty."""
    if not settings.event_bus_name:
        return NoEvents()
    return EventBridgePublisher(client or _client("events"), settings.event_bus_name)


def build_sweep(settings: Settings) -> PartnerSweep:
    """Wire the partner-timeout sweep: S3 and the event bus (no API, no DynamoDB)."""
    s3 = _client("s3")
    return PartnerSweep(
        settings,
        S3Storage(s3),
        PendingPartners(s3, settings.output_bucket, settings.partner_timeout_minutes),
        completion_publisher(settings),
    )


class _LazyIdempotencyGuard:
    """Builds the idempotency layer (and its DynamoDB client) on first use: a lone half never
    needs it, and the warm-up builds it ahead of the first pair (`layer`)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._get = lazy(factory)
        self._context: Any = None

    def register_context(self, context: Any) -> None:
        self._context = context

    def layer(self) -> Any:
        """The idempotency layer, built now if it was not yet (the warm-up's step)."""
        return self._get()

    def run(self, key: dict[str, Any], work: Callable[[], dict[str, Any]]) -> GuardedRun:
        guard = self._get()
        guard.register_context(self._context)
        result: GuardedRun = guard.run(key, work)
        return result
