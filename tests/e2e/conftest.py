"""The local stack end to end: moto provisioned from template.yaml, the HTTPS emulator, and
the local event source mapping running the real handler in worker processes. Tests go
through the front door only: upload to S3 or call the local Pair API with a signed token,
wait for result.json, look at the queues."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from local_stack.aws import LocalStack, MotoServer
from local_stack.emulator import FusionEmulator
from local_stack.esm import EventSourceMapping
from local_stack.jwt_issuer import LocalIssuer
from local_stack.pair_api import local_pair_api, seed_catalogue
from local_stack.pair_api_server import PairApiServer
from tests.harness import Buckets, function_environment, provision_tier
from tests.settling import emulator_idle, queue_depth

# No shorter than the function's timeout (Lambda refuses such a mapping: a message would
# come back while an invocation still holds it). A handed-back message returns sooner, after
# the wait its reason gives (seconds for a transient fault or a pair in progress), and tests
# that park pairs have the API ask for a retry after a second.
VISIBILITY_TIMEOUT_S = 30
MAX_RECEIVE_COUNT = 3


@pytest.fixture(scope="session")
def stack(moto: MotoServer) -> LocalStack:
    return provision_tier(
        moto.endpoint_url,
        "e2e",
        visibility_timeout=VISIBILITY_TIMEOUT_S,
        MaxReceiveCount=str(MAX_RECEIVE_COUNT),
    )


class TokenMinter(Protocol):
    """Signs a JWT for ``subject``; times are seconds from now (negative: in the past)."""

    def __call__(
        self, subject: str, *, expires_in: float = 3600, not_before: float | None = None
    ) -> str: ...


@pytest.fixture(scope="module")
def pair_api(stack: LocalStack) -> Iterator[PairApiServer]:
    """The local Pair API over the e2e stack (catalogue seeded): routes, throttling and JWT
    authorizer as the template declares them, and the issuer of the tokens it accepts."""
    seed_catalogue(stack)
    with local_pair_api(stack) as server:
        yield server


def _minter(issuer: LocalIssuer) -> TokenMinter:
    def mint(subject: str, *, expires_in: float = 3600, not_before: float | None = None) -> str:
        return issuer.mint(subject, expires_in=expires_in, not_before=not_before)

    return mint


@pytest.fixture
def tokens(pair_api: PairApiServer) -> TokenMinter:
    """Tokens the running Pair API accepts (while they are valid), for any subject."""
    return _minter(pair_api.issuer)


@pytest.fixture
def forged_tokens(pair_api: PairApiServer) -> TokenMinter:
    """Tokens that claim the Pair API's issuer, audience and key id but are signed with
    another key: what an attacker can make. The Pair API must refuse every one."""
    return _minter(pair_api.issuer.forger())


class Queues:
    """The fusion queue and its DLQ, as an operator sees them."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.sqs = stack.client("sqs")

    def depth(self, url: str) -> int:
        """Messages in a queue, visible or in flight."""
        return queue_depth(self.sqs, url)

    def dlq_bodies(self) -> list[str]:
        """Every message in the DLQ, made visible again right away: a later look (or a
        redrive) sees them all."""
        taken: list[dict[str, Any]] = []
        while got := self.sqs.receive_message(
            QueueUrl=self.stack.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages"):
            taken += got
        for start in range(0, len(taken), 10):
            entries = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for n, m in enumerate(taken[start : start + 10])
            ]
            self.sqs.change_message_visibility_batch(QueueUrl=self.stack.dlq_url, Entries=entries)
        return [m["Body"] for m in taken]

    @contextlib.contextmanager
    def visibility_timeout(self, seconds: int) -> Iterator[None]:
        """The fusion queue with another visibility timeout until the block ends."""
        self.sqs.set_queue_attributes(
            QueueUrl=self.stack.queue_url, Attributes={"VisibilityTimeout": str(seconds)}
        )
        try:
            yield
        finally:
            self.sqs.set_queue_attributes(
                QueueUrl=self.stack.queue_url,
                Attributes={"VisibilityTimeout": str(self.stack.visibility_timeout)},
            )

    def drain(self, url: str) -> None:
        while got := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            for message in got:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def wait_until_empty(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.depth(self.stack.queue_url) == 0:
                return
            time.sleep(0.2)
        raise AssertionError("the fusion queue did not drain")


@pytest.fixture
def queues(stack: LocalStack) -> Queues:
    return Queues(stack)


@pytest.fixture
def buckets(stack: LocalStack) -> Buckets:
    return Buckets(stack)


def start_mapping(
    stack: LocalStack,
    emulator: FusionEmulator,
    *,
    concurrency: int = 2,
    batch_size: int = 1,
    function_timeout_s: float = VISIBILITY_TIMEOUT_S,
    log_file: Path | None = None,
    **env: str,
) -> EventSourceMapping:
    environment = function_environment(stack, emulator.url, emulator.ca_bundle, **env)
    mapping = EventSourceMapping(
        stack.queue_url,
        handler=stack.handler,
        env=environment,
        batch_size=batch_size,
        concurrency=concurrency,
        function_timeout_s=function_timeout_s,
        memory_size_mb=stack.memory_size,
        endpoint_url=stack.endpoint_url,
        log_file=log_file,
    )
    mapping.start()
    return mapping


@pytest.fixture
def mapping(
    stack: LocalStack, emulator: FusionEmulator, queues: Queues
) -> Iterator[EventSourceMapping]:
    """The default mapping: two concurrent workers, one message per batch."""
    queues.drain(stack.queue_url)
    queues.drain(stack.dlq_url)
    esm = start_mapping(stack, emulator)
    yield esm
    esm.stop()


@pytest.fixture(autouse=True)
def healthy_emulator(emulator: FusionEmulator) -> Iterator[None]:
    emulator.reset()
    yield
    emulator.reset()


def settle(emulator: FusionEmulator, queues: Queues) -> dict[str, Any]:
    """Wait for the queue to drain and the API to go quiet; return the emulator's stats."""
    queues.wait_until_empty()
    return emulator_idle(emulator)
