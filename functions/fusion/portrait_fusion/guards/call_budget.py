"""The daily call budget: at most N paid API calls per UTC day, across every environment.

A unit is reserved with one conditional DynamoDB update before each HTTP call to the API and
given back when the call was not billed (the API bills every HTTP 200 and nothing else). The
API client reserves it for every attempt it makes, retries and the replacement of an unusable
answer included (`CallAllowance`); a pair's first unit is reserved ahead, beside its
idempotency write, and never while another call waits (`api.call_ahead`). Counters live in the
idempotency table under their own ids (`budget#<day>`, `budget#<day>#tenant#<name>`,
`budget#<day>#owner#<owner id>` for the owner of a Pair API pair) and expire two days after
their day.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from portrait_fusion.aws.storage import aws_error_detail
from portrait_fusion.core.errors import Disposition, FusionError, Stage, StorageError
from portrait_fusion.core.observability import count, logger
from portrait_fusion.guards.budget_counters import counter_id, owner_counter_id
from portrait_fusion.pairs.payer import Payer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Clock = Callable[[], datetime]
BILLED_STATUS = 200
_COUNTER_DAYS_KEPT = 2


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def seconds_to_next_day(now: datetime) -> float:
    """Seconds from `now` to the next UTC midnight, when a spent budget refills."""
    midnight = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), UTC)
    return max(1.0, (midnight - now).total_seconds())


class BudgetExhaustedError(FusionError):
    """Today's call budget is spent: the pair waits in the queue until the next UTC day."""

    code = "DAILY_CALL_BUDGET_EXHAUSTED"
    stage = Stage.API
    disposition = Disposition.HOLD


def held_back(error: FusionError) -> None:
    """Report a pair that `error` stopped, if it is a spent budget (the `BudgetExhausted`
    metric and its alarm count held-back pairs, not refused reservations)."""
    if isinstance(error, BudgetExhaustedError):
        count("BudgetExhausted")
        logger.warning(
            "daily call budget spent: the pair waits for the next UTC day",
            extra={"reason": error.message, "retry_after_s": round(error.retry_after or 0)},
        )


@dataclass(frozen=True)
class DynamoDBCallBudget:
    """The daily call budget on atomic conditional counters in DynamoDB: the API client's
    `CallAllowance`."""

    table_name: str
    client: Callable[[], DynamoDBClient]
    _: KW_ONLY
    daily_cap: int
    tenant_cap: int
    owner_cap: int = 0
    clock: Clock = utc_now

    def reserve(self, payer: Payer) -> _Units:
        now = self.clock()
        day = now.astimezone(UTC).date()
        units = _Units(self)
        scopes = [(counter_id(day), self.daily_cap, "all tenants")]
        if payer.tenant is not None:
            scopes.append(
                (counter_id(day, payer.tenant), self.tenant_cap, f"tenant {payer.tenant!r}")
            )
        if payer.owner is not None:
            scopes.append((owner_counter_id(day, payer.owner), self.owner_cap, "this owner"))
        for counter, cap, whose in scopes:
            if not cap:
                continue
            if not self._take(counter, cap, day):
                units.give_back()
                # Not logged or counted here: a unit reserved ahead may never be wanted (the
                # pair turns out done). `held_back` reports the pairs a spent budget stops.
                raise BudgetExhaustedError(
                    f"the daily call budget of {whose} ({cap} paid calls) is spent for "
                    f"{day.isoformat()} UTC; the pair waits in the queue until the next UTC day",
                    retry_after=seconds_to_next_day(now),
                )
            units.taken.append(counter)
        return units

    def _take(self, counter: str, cap: int, day: date) -> bool:
        expires = datetime.combine(day + timedelta(days=_COUNTER_DAYS_KEPT), time(), UTC)
        try:
            self._update(
                counter,
                "ADD spent :one SET expiration = :expires",
                condition="attribute_not_exists(spent) OR spent < :cap",
                values={
                    ":one": {"N": "1"},
                    ":cap": {"N": str(cap)},
                    ":expires": {"N": str(int(expires.timestamp()))},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise _store_error(exc) from exc
        except BotoCoreError as exc:
            raise _store_error(exc) from exc
        return True

    def give_back(self, counter: str) -> None:
        """Return one unit to `counter` (never below zero)."""
        try:
            self._update(
                counter,
                "ADD spent :minus_one",
                condition="spent > :zero",
                values={":minus_one": {"N": "-1"}, ":zero": {"N": "0"}},
            )
        except (ClientError, BotoCoreError) as exc:
            # A unit not given back only makes the cap stricter, never looser.
            logger.warning(
                "could not give back a call budget unit",
                extra={"counter": counter, "error": type(exc).__name__},
            )

    def _update(self, counter: str, update: str, *, condition: str, values: dict[str, Any]) -> None:
        """Apply `update` to `counter`'s item if `condition` holds (else a `ClientError`)."""
        self.client().update_item(
            TableName=self.table_name,
            Key={"id": {"S": counter}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )


class _Units:
    """The counters one reservation took."""

    def __init__(self, budget: DynamoDBCallBudget) -> None:
        self._budget = budget
        self.taken: list[str] = []

    def give_back(self) -> None:
        while self.taken:
            self._budget.give_back(self.taken.pop())


def tenant_of(pattern: re.Pattern[str], key: str) -> str | None:
    """The `tenant` group of PAIR_PATTERN in `key`, when the pattern has one."""
    if "tenant" not in pattern.groupindex:
        return None
    match = pattern.match(key)
    return match.group("tenant") if match else None


def _store_error(exc: Exception) -> StorageError:
    error = StorageError(
        f"call budget counter unavailable: {aws_error_detail(exc)}", code="BUDGET_STORE_ERROR"
    )
    error.stage = Stage.API
    return error
