"""Counters per owner, the keys the Pair API hands out, and the index key of a pair."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from portrait_fusion.guards.budget_counters import counter_id, owner_counter_id
from portrait_fusion.guards.call_budget import BudgetExhaustedError, DynamoDBCallBudget
from portrait_fusion.pairs.api_pair_keys import api_pair_of, is_api_pair_id
from portrait_fusion.pairs.pair_index import pair_ref
from portrait_fusion.pairs.payer import Payer

PAIR = "0123456789abcdef0123456789abcdef"


class Counters:
    """A table of counters answering conditional ADDs as DynamoDB does."""

    def __init__(self) -> None:
        self.spent: dict[str, int] = {}

    def update_item(self, **call: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        counter = call["Key"]["id"]["S"]
        step = int(call["ExpressionAttributeValues"].get(":one", {"N": "-1"})["N"])
        cap = call["ExpressionAttributeValues"].get(":cap")
        if cap is not None and self.spent.get(counter, 0) >= int(cap["N"]):
            error = {"Error": {"Code": "ConditionalCheckFailedException"}}
            raise ClientError(error, "UpdateItem")  # type: ignore[arg-type]
        self.spent[counter] = self.spent.get(counter, 0) + step
        return {}


def test_an_owner_counter_is_its_own_beside_the_stack_and_tenant_counters() -> None:
    day = date(2030, 1, 2)
    assert owner_counter_id(day, "abc") == "budget#2030-01-02#owner#abc"
    assert owner_counter_id(day, "abc") != counter_id(day, "abc")


def test_an_owner_spends_its_own_budget_and_leaves_the_others() -> None:
    table = Counters()
    budget = DynamoDBCallBudget(
        "t",
        lambda: table,  # type: ignore[arg-type, return-value]
        daily_cap=100,
        tenant_cap=0,
        owner_cap=2,
        clock=lambda: datetime(2030, 1, 2, 12, tzinfo=UTC),
    )
    budget.reserve(Payer(owner="alice"))
    budget.reserve(Payer(owner="alice"))
    with pytest.raises(BudgetExhaustedError, match="this owner"):
        budget.reserve(Payer(owner="alice"))
    budget.reserve(Payer(owner="bob"))
    # the refused unit went back to the stack's counter: three calls, three units
    assert table.spent["budget#2030-01-02"] == 3
    assert table.spent["budget#2030-01-02#owner#alice"] == 2


@pytest.mark.parametrize(
    ("key", "pair"),
    [
        (f"incoming/{PAIR}/target.jpg", PAIR),
        (f"incoming/{PAIR}/template.png", PAIR),
        (f"incoming/{PAIR}/template.jpeg", PAIR),
        (f"incoming/{PAIR.upper()}/target.jpg", None),
        (f"incoming/x/{PAIR}/target.jpg", None),
        (f"incoming/{PAIR}/target.jpg\n", None),
        (f"uploads/{PAIR}/target.jpg", None),
        ("incoming/shoot-42/target.jpg", None),
    ],
)
def test_only_the_keys_the_pair_api_hands_out_name_an_api_pair(key: str, pair: str | None) -> None:
    assert api_pair_of(key, "incoming/") == pair


def test_a_pair_id_is_32_lower_case_hex_digits_exactly() -> None:
    assert is_api_pair_id(PAIR)
    assert not is_api_pair_id(PAIR + "\n")
    assert not is_api_pair_id(PAIR[:-1])


def test_the_index_key_is_the_digest_powertools_writes_for_a_validated_pair_id() -> None:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.base import (
        BasePersistenceLayer,
    )

    class Layer(BasePersistenceLayer):  # only the hashing is used
        def _get_record(self, idempotency_key: str) -> Any: ...
        def _put_record(self, data_record: Any) -> None: ...
        def _update_record(self, data_record: Any) -> None: ...
        def _delete_record(self, data_record: Any) -> None: ...

    layer = Layer()
    layer.configure(IdempotencyConfig(payload_validation_jmespath="pair_id"), "fn")
    key = {"pair_id": "shoot 42/é", "etag": "e"}
    assert layer._get_hashed_payload(key) == pair_ref("shoot 42/é")
