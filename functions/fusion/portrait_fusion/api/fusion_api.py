"""The AILabTools face-fusion client: retries as the provider advises (`retry_policy`), a key
re-read on 401, and the paid-call bound on unusable 200s (`paid_calls`); each call itself is
`fusion_call`'s."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass

import requests

from portrait_fusion.api.api_codes import AUTH_CODES, rule_for
from portrait_fusion.api.api_errors import INVALID_RESPONSE, ProtocolError
from portrait_fusion.api.api_key import ApiKey, ApiKeyProvider
from portrait_fusion.api.call_ahead import (
    CallAhead,
    CallAllowance,
    FirstReads,
    Reservation,
    release,
)
from portrait_fusion.api.call_slot import CallSlot
from portrait_fusion.api.fusion_call import Answer, FusionCall, Upload, answer, new_session
from portrait_fusion.api.paid_calls import UNUSABLE_LIMIT, InMemoryPaidCallMarks, PaidCallMarks
from portrait_fusion.api.retry_policy import Backoff
from portrait_fusion.core.errors import (
    ApiError,
    OperationalApiError,
    OutOfTimeError,
    PermanentApiError,
    TransientApiError,
)
from portrait_fusion.core.observability import count
from portrait_fusion.images.preflight import ImageInfo
from portrait_fusion.pairs.payer import NO_PAYER, Payer

__all__ = ["FusionApiClient", "FusionResult", "MergeRequest", "Upload", "new_session"]

# Below this many seconds left there is no point starting a call: it could not finish.
MIN_CALL_SECONDS = 1.0
BILLED_STATUS = 200  # the API bills every HTTP 200, whatever its body, and nothing else


@dataclass(frozen=True)
class MergeRequest:
    """One merge to make: `target`'s face into `template`."""

    target: Upload
    template: Upload
    similarity: float | None  # None: the API's own default
    pair_key: str | None = None
    """The pair version whose unusable 200s count against the paid-call bound across
    deliveries; without it only this merge's own are counted."""
    payer: Payer = NO_PAYER
    """Whose daily call budgets the calls also count against (a tenant, a Pair API owner)."""
    ahead: CallAhead | None = None
    """What `FusionApiClient.read_ahead` started for this merge."""


@dataclass(frozen=True)
class FusionResult:
    """The decoded result image and how the call went."""

    image: bytes
    info: ImageInfo
    request_id: str | None
    log_id: str | None
    attempts: int
    latency_ms: int
    unusable_request_ids: tuple[str | None, ...] = ()
    """Billed 200s of this pair that could not be used, before this result."""


@dataclass
class _Tally:
    """One merge in progress: the key in use, calls made, failures, unusable 200s."""

    key: ApiKey
    pair_key: str
    marks: PaidCallMarks
    unusable: list[str | None]
    payer: Payer
    unit: Future[Reservation] | None  # the first call's, reserved ahead
    calls: int = 0
    failures: int = 0
    key_refreshed: bool = False


class FusionApiClient:
    """Calls the Merge Portraits endpoint; classifies and retries its failures."""

    def __init__(
        self,
        session: requests.Session,
        url: str,
        keys: ApiKeyProvider,
        *,
        timeout_seconds: float,
        max_attempts: int,
        backoff: Backoff | None = None,
        marks: PaidCallMarks | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
        executor: Executor | None = None,
        slot: CallSlot | None = None,
        allowance: CallAllowance | None = None,
    ) -> None:
        """`executor` runs `read_ahead`'s work; `allowance` (the daily call budget) reserves
        a unit before each call and gets it back when the call was not billed."""
        self._transport = FusionCall(session, url, clock)
        self._executor = executor
        self._allowance = allowance
        self._keys = keys
        self._timeout = timeout_seconds
        self._max_attempts = max_attempts
        self._backoff = backoff or Backoff()
        self._marks = marks or InMemoryPaidCallMarks()
        self._sleep = sleep
        self._jitter = jitter
        # One call in flight per execution environment: two pairs overlap their reads and
        # writes with each other's call, and the cap on environments still caps the calls.
        self._slot = slot or CallSlot()

    def merge(self, request: MergeRequest, *, seconds_left: Callable[[], float]) -> FusionResult:
        """Merge the target face into the template, retrying transient failures while time is left.

        Raises `PermanentApiError`, `OperationalApiError` (no in-function retry) or
        `TransientApiError` once attempts or time run out. A 401 re-reads the key once.
        """
        marks = self._marks if request.pair_key else InMemoryPaidCallMarks()
        key = request.pair_key or "this call"
        ahead = request.ahead or CallAhead()
        reads = ahead.reads() if request.pair_key else None
        api_key, unusable = reads.result() if reads else self._first_reads(key, marks)
        tally = _Tally(api_key, key, marks, unusable, request.payer, ahead.take_unit())
        if len(tally.unusable) >= UNUSABLE_LIMIT:
            if tally.unit is not None:
                release(tally.unit)
            # Earlier deliveries bought the replacement already (its document went unwritten).
            raise _paid_call_bound("", tally, request_id=tally.unusable[-1])
        while True:
            try:
                answer = self._attempt(tally, request, seconds_left)
            except ApiError as exc:
                self._prepare_retry(exc, tally, seconds_left)
                continue
            return FusionResult(
                answer.image,
                answer.info,
                answer.request_id,
                answer.log_id,
                attempts=tally.calls,
                latency_ms=answer.latency_ms,
                unusable_request_ids=tuple(tally.unusable),
            )

    def read_ahead(self, pair_key: str, payer: Payer) -> CallAhead:
        """Start what a merge for `pair_key` needs first (the API key, the pair's unusable
        200s so far, a unit of the budgets `payer` spends) on the executor, so it overlaps
        the caller's own work (the idempotency write). Give the result to the merge
        (`MergeRequest.ahead`), and `close` it once the merge is over or will not happen."""
        if self._executor is None:
            return CallAhead()
        reads = self._executor.submit(self._first_reads, pair_key, self._marks)
        allowance = self._allowance
        unit = None if allowance is None else self._executor.submit(allowance.reserve, payer)
        return CallAhead(reads, unit)

    def _first_reads(self, pair_key: str, marks: PaidCallMarks) -> FirstReads:
        return self._keys.get(), marks.unusable(pair_key)

    def _attempt(
        self, tally: _Tally, request: MergeRequest, seconds_left: Callable[[], float]
    ) -> Answer:
        """One call. The slot is held only for the HTTP exchange; the budget unit is reserved
        before waiting for it and given back (when the call was not billed) after leaving it,
        and the answer is read after leaving it too: none of that sits between two calls."""
        unit = self._unit_for(tally)
        billed = False
        try:
            with self._slot.held():
                budget = seconds_left()
                if budget < MIN_CALL_SECONDS:
                    raise OutOfTimeError(f"{budget:.1f} s left: not enough to call the API")
                tally.calls += 1
                timeout = min(self._timeout, budget)
                try:
                    reply = self._transport.exchange(
                        request.target, request.template, request.similarity, tally.key, timeout
                    )
                except ApiError as exc:
                    billed = exc.http_status == BILLED_STATUS
                    raise
            billed = reply.status == BILLED_STATUS
        finally:
            if unit is not None and not billed:
                unit.give_back()
        return answer(reply)

    def _unit_for(self, tally: _Tally) -> Reservation | None:
        """The call's budget unit: the one reserved ahead for the first call, else a new one
        (raises when the budget is spent)."""
        ahead, tally.unit = tally.unit, None
        if ahead is not None:
            return ahead.result()
        return None if self._allowance is None else self._allowance.reserve(tally.payer)

    def _prepare_retry(
        self, exc: ApiError, tally: _Tally, seconds_left: Callable[[], float]
    ) -> None:
        """Return when another call is worth making now (after waiting); else raise `exc`."""
        if isinstance(exc, ProtocolError) and exc.http_status == 200:
            self._count_unusable(exc, tally)
        exc.attempts = tally.calls
        exc.unusable_request_ids = tuple(tally.unusable)
        if isinstance(exc, OperationalApiError) and self._rotated_key(exc, tally):
            return
        if not isinstance(exc, TransientApiError):
            raise exc
        tally.failures += 1
        if tally.failures >= self._attempts_for(exc.code):
            raise exc
        delay = self._backoff.delay(tally.failures, self._jitter())
        if exc.retry_after is not None:  # the server's guidance wins when it asks for longer
            delay = max(delay, exc.retry_after)
        if delay + MIN_CALL_SECONDS > seconds_left():
            raise exc
        self._sleep(delay)

    def _count_unusable(self, exc: ProtocolError, tally: _Tally) -> None:
        """Remember a billed 200 that could not be used; raise once the bound is reached."""
        tally.unusable = tally.marks.add_unusable(tally.pair_key, exc.request_id)
        count("PaidButUnusable")
        if len(tally.unusable) >= UNUSABLE_LIMIT:
            raise _paid_call_bound(
                f"{exc.message}; ", tally, request_id=exc.request_id, log_id=exc.log_id
            ) from None

    def _rotated_key(self, exc: OperationalApiError, tally: _Tally) -> bool:
        """After the first 401, re-read the secret: True when it changed (worth a new call)."""
        if exc.code not in AUTH_CODES or tally.key_refreshed:
            return False
        tally.key_refreshed = True
        fresh = self._keys.get(refresh=True)
        rotated = fresh != tally.key
        tally.key = fresh
        return rotated

    def _attempts_for(self, code: str) -> int:
        rule = rule_for(code)
        if rule is not None and rule.max_attempts is not None:
            return min(self._max_attempts, rule.max_attempts)
        return self._max_attempts


def _paid_call_bound(
    cause: str, tally: _Tally, *, request_id: str | None, log_id: str | None = None
) -> PermanentApiError:
    """The final `INVALID_RESPONSE` once a pair's unusable 200s reached the bound."""
    error = PermanentApiError(
        f"{cause}{len(tally.unusable)} billed 200s without a usable result for this pair: "
        "no further call is made for it",
        code=INVALID_RESPONSE,
        http_status=200,
        request_id=request_id,
        log_id=log_id,
    )
    error.attempts = tally.calls
    error.unusable_request_ids = tuple(tally.unusable)
    return error
