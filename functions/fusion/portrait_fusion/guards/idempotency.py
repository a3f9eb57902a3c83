"""Exactly-once billing: at most one API call per pair version, across every entry point.

Built on the Powertools idempotency utility and its DynamoDB persistence layer. The key is
the pair id, both inputs' ETags and version ids, and the similarity; the stored
value is the pair's result document, which a replay returns without calling the API.

Powertools is told to validate the key's `pair_id` and to store that digest as `pair_ref`:
every record then carries the attribute the table's `by-pair` index is keyed on, and erasure
finds a pair's records with one Query (`portrait_fusion.pairs.pair_index`). The key holds
the pair id, so the validation itself never refuses a replay of the same key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from portrait_fusion.core.errors import PairInProgressError, StorageError
from portrait_fusion.core.settings import RECORD_TTL_SECONDS
from portrait_fusion.pairs.pair_index import INDEX_ATTRIBUTE, PAIR_ID_FIELD

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

Work = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class GuardedRun:
    """A guarded run's document, and whether it was stored by an earlier run (a replay)."""

    document: dict[str, Any]
    replayed: bool


class IdempotencyGuard(Protocol):
    """Runs a pair's work at most once per key, across invocations."""

    def register_context(self, context: LambdaContext | None) -> None:
        """Tell the guard the invocation's time limit (in-progress records expire with it)."""

    def run(self, key: dict[str, Any], work: Work) -> GuardedRun:
        """`work()`'s document, or the stored one if that key already completed."""


class DynamoDBIdempotencyGuard:
    """`IdempotencyGuard` on the Powertools idempotency utility and a DynamoDB table."""

    def __init__(
        self, table_name: str, client: DynamoDBClient, ttl_seconds: int = RECORD_TTL_SECONDS
    ) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        self._config = IdempotencyConfig(
            expires_after_seconds=ttl_seconds,
            raise_on_no_idempotency_key=True,
            payload_validation_jmespath=PAIR_ID_FIELD,
        )
        store = DynamoDBPersistenceLayer(
            table_name=table_name, boto3_client=client, validation_key_attr=INDEX_ATTRIBUTE
        )
        self._guarded: Callable[..., dict[str, Any]] = idempotent_function(
            data_keyword_argument="key",
            persistence_store=store,
            config=self._config,
        )(_call_work)

    def register_context(self, context: LambdaContext | None) -> None:
        if context is not None:
            self._config.register_lambda_context(context)

    def run(self, key: dict[str, Any], work: Work) -> GuardedRun:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        attempt = _Attempt(work)
        try:
            document = self._guarded(key=key, work=attempt)
        except IdempotencyAlreadyInProgressError as exc:
            raise PairInProgressError(
                "another invocation is processing this pair; it will be retried"
            ) from exc
        except IdempotencyValidationError as exc:
            # A record written before records carried `pair_ref` (at most a week old): its
            # document cannot be replayed, and the pair must not be merged (and billed) again.
            raise StorageError(
                "this pair version's idempotency record predates the by-pair index; it is "
                "not merged again (the record expires within a week)",
                code="IDEMPOTENCY_RECORD_OUTDATED",
            ) from exc
        except IdempotencyPersistenceLayerError as exc:
            raise StorageError(
                f"idempotency table unavailable: {type(exc.__cause__).__name__}",
                code="IDEMPOTENCY_STORE_ERROR",
            ) from exc
        # Powertools returns a stored document without saying so: the work tells.
        return GuardedRun(document, replayed=not attempt.ran)


class _Attempt:
    """The pair's work, remembering whether Powertools called it."""

    def __init__(self, work: Work) -> None:
        self._work = work
        self.ran = False

    def __call__(self) -> dict[str, Any]:
        self.ran = True
        return self._work()


def _call_work(key: dict[str, Any], work: Work) -> dict[str, Any]:
    """The function Powertools guards: `key` is hashed, `work` does the pair."""
    del key
    return work()
