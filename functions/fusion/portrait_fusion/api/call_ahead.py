"""What a merge needs before its first call, started early so that it overlaps other work.

A merge first needs the API key, the pair's unusable 200s so far (the paid-call bound) and,
with a daily call budget, one unit of it. Read and reserved only when the call is due, each
would be one more round trip on the pair's path, and the budget's would sit in the gap
between two calls of one execution environment. So they start on the pool as soon as the
pair's identity is known, beside its idempotency write; the merge takes them, and `close`
gives back a unit no call used (the pair was done or in progress elsewhere, an input was
refused, or an identical request's result was re-used).
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from portrait_fusion.api.api_key import ApiKey
    from portrait_fusion.pairs.payer import Payer

FirstReads = tuple["ApiKey", list[str | None]]
"""The API key, and the request ids of the pair's unusable 200s so far."""


class Reservation(Protocol):
    """One paid call's unit of an allowance."""

    def give_back(self) -> None:
        """Return the unit: the call it was for was not billed (or never made)."""


class CallAllowance(Protocol):
    """Paid calls allowed (the daily call budget): one unit per call, reserved before it."""

    def reserve(self, payer: Payer) -> Reservation:
        """Take one unit (of the payer's budgets too); raise a `FusionError` when one of
        them has none left."""


class CallAhead:
    """A merge's first reads and its first call's unit, in flight or done."""

    def __init__(
        self,
        reads: Future[FirstReads] | None = None,
        unit: Future[Reservation] | None = None,
    ) -> None:
        """`None` for either: the merge makes it itself when it needs it."""
        self._reads = reads
        self._unit = unit

    def reads(self) -> Future[FirstReads] | None:
        """The first reads, if they were started."""
        return self._reads

    def take_unit(self) -> Future[Reservation] | None:
        """The first call's unit, if one was reserved ahead; from now on the taker's to give
        back (the future raises what the reservation raised: a spent budget)."""
        unit, self._unit = self._unit, None
        return unit

    def close(self) -> None:
        """Give back a unit nobody took (once its reservation is done; cancelled if it has
        not started)."""
        unit, self._unit = self._unit, None
        if unit is not None:
            release(unit)


def release(unit: Future[Reservation]) -> None:
    """Give back a unit reserved ahead for a call that will not be made: once its reservation
    is done, or never if it has not started (it is cancelled)."""
    if not unit.cancel():
        unit.add_done_callback(_give_back_if_reserved)


def _give_back_if_reserved(unit: Future[Reservation]) -> None:
    if not unit.cancelled() and unit.exception() is None:
        unit.result().give_back()
