"""Who a pair's paid calls are for, beyond the stack: the budgets they count against too."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Payer:
    """Who a paid call is for, beyond the stack: a tenant of PAIR_PATTERN, a Pair API owner."""

    tenant: str | None = None
    owner: str | None = None


NO_PAYER = Payer()
