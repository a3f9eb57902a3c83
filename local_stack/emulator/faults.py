"""What a test can steer at run time: latency, the rate limit, injected outcomes, body style.

`Faults` is plain, validated configuration (JSON in and out for the admin endpoint);
`FaultInjector` applies it to calls, thread-safely: it owns the RNG and the script queue.
"""

from __future__ import annotations

import dataclasses
import random
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from local_stack.emulator.contract import STATUS_OF_CODE, BodyStyle, Refusal
from local_stack.emulator.merge import ResultFormat

OK = "ok"
"""Outcome: process the call normally (which may still fail validation)."""

SPECIAL_OUTCOMES = frozenset(
    {
        "html_502",  # a gateway's HTML error page, 502 text/html
        "html_503",  # the same page for 503
        "html_504",  # and for 504
        "truncated_json",  # 200, a success body cut mid-JSON (complete HTTP message)
        "non_json",  # 200, text/plain garbage
        "ok_without_image",  # 200, success envelope without data.image
        "not_an_image",  # 200, data.image is base64 of bytes that are no image
        "slow_body",  # processed normally, body sent in small pieces over slow_body_ms
        "reset",  # connection closed (RST) without an answer
        "timeout",  # held for timeout_hold_ms, then processed normally
    }
)
OUTCOMES = frozenset({OK}) | SPECIAL_OUTCOMES | frozenset(STATUS_OF_CODE)
"""What `script` and `error_codes` may name: "ok", a special outcome, or a published code
(answered with its status); besides, `CODE@STATUS` answers any code with any 4xx/5xx status."""

_ANY_CODE = re.compile(r"(?P<code>[A-Z][A-Z0-9_]*)@(?P<status>[45]\d\d)")


def injected_error(outcome: str) -> Refusal | None:
    """The API error an outcome names (`CODE` or `CODE@STATUS`), or None for other outcomes."""
    if outcome in STATUS_OF_CODE:
        return Refusal(outcome, "injected by the emulator")
    named = _ANY_CODE.fullmatch(outcome)
    if named is None:
        return None
    return Refusal(named["code"], "injected by the emulator", int(named["status"]))


def _is_outcome(outcome: str) -> bool:
    return outcome in OUTCOMES or _ANY_CODE.fullmatch(outcome) is not None


@dataclass(frozen=True)
class Faults:
    """The emulator's steerable behaviour; the defaults are a healthy, prompt API."""

    latency_ms: int = 0
    latency_jitter_ms: int = 0
    concurrency_cap: int | None = None
    """More calls in flight than this are answered 429 EXCEEDING_LIMITS at once."""
    error_rate: float = 0.0
    error_codes: tuple[str, ...] = ()
    """Outcomes drawn uniformly when a call is picked by `error_rate`."""
    seed: int | None = None
    script: tuple[str, ...] = ()
    """Forced outcomes for the next calls, one consumed per call, before `error_rate`."""
    timeout_hold_ms: int = 35_000  # past the official SDK's 30 s default timeout
    slow_body_ms: int = 3_000
    body_style: BodyStyle = "new"
    retry_after: str | None = None
    """A `Retry-After` value (seconds or an HTTP date) sent with every error answer."""
    result_format: ResultFormat = "JPEG"

    def __post_init__(self) -> None:
        for name in ("latency_ms", "latency_jitter_ms", "timeout_hold_ms", "slow_body_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.concurrency_cap is not None and self.concurrency_cap < 1:
            raise ValueError("concurrency_cap must be >= 1 (or None for no cap)")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be in [0, 1]")
        if self.error_rate > 0 and not self.error_codes:
            raise ValueError("error_rate needs at least one of error_codes")
        unknown = sorted(o for o in set(self.error_codes + self.script) if not _is_outcome(o))
        if unknown:
            raise ValueError(f"unknown outcome(s): {', '.join(unknown)}")
        if self.body_style not in ("new", "old"):
            raise ValueError("body_style must be 'new' or 'old'")
        if self.retry_after is not None and not self.retry_after.strip():
            raise ValueError("retry_after must be seconds or an HTTP date (or None)")
        if self.result_format not in ("JPEG", "PNG"):
            raise ValueError("result_format must be 'JPEG' or 'PNG'")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Faults:
        """Faults from JSON-like values; unknown keys and bad values raise `ValueError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        converted: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in values.items()
        }
        try:
            return cls(**converted)
        except TypeError as exc:  # a wrongly typed value that broke a comparison
            raise ValueError(str(exc)) from exc

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (lists for the tuples)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()}


@dataclass
class FaultInjector:
    """Applies one `Faults` to a stream of calls; swap the configuration with `configure`."""

    faults: Faults = field(default_factory=Faults)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _script: deque[str] = field(default_factory=deque, init=False, repr=False)
    _rng: random.Random = field(default_factory=random.Random, init=False, repr=False)

    def __post_init__(self) -> None:
        self.configure(self.faults)

    def configure(self, faults: Faults) -> None:
        """Replace the configuration; the script restarts and the RNG is re-seeded."""
        with self._lock:
            self.faults = faults
            self._script = deque(faults.script)
            self._rng = random.Random(faults.seed)

    def current(self) -> Faults:
        """The configuration in force, with `script` showing only the outcomes not yet used."""
        with self._lock:
            return dataclasses.replace(self.faults, script=tuple(self._script))

    def latency_s(self) -> float:
        """The delay to add to the next call, in seconds."""
        with self._lock:
            jitter = self._rng.uniform(0, self.faults.latency_jitter_ms)
            return (self.faults.latency_ms + jitter) / 1000

    def next_outcome(self) -> str:
        """The outcome for the next call: the script first, then `error_rate`, else "ok"."""
        with self._lock:
            if self._script:
                return self._script.popleft()
            if self._rng.random() < self.faults.error_rate:
                return self._rng.choice(self.faults.error_codes)
            return OK
