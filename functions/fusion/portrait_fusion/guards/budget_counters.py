"""The ids of the daily call budget's counters, and reading one: nothing else imported, so
the Pair API can tell an owner whose merges are spent without loading the call machinery."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def counter_id(day: date, tenant: str | None = None) -> str:
    """The table id of a day's counter (all tenants, or one)."""
    base = f"budget#{day.isoformat()}"
    return base if tenant is None else f"{base}#tenant#{tenant}"


def owner_counter_id(day: date, owner: str) -> str:
    """The table id of a day's counter for one owner of Pair API pairs."""
    return f"{counter_id(day)}#owner#{owner}"


def spent_today(client: DynamoDBClient, table: str, counter: str) -> int:
    """Units a counter has spent (0 when it has none yet); read consistently."""
    item = client.get_item(TableName=table, Key={"id": {"S": counter}}, ConsistentRead=True).get(
        "Item", {}
    )
    return int(item.get("spent", {}).get("N", "0"))
