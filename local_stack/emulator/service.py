"""One face-fusion call from request bytes to a reply, with faults and accounting applied.

No sockets here: `server` reads the request and writes the `Reply` this module decides on.
Order of a call: rate limit (429 at once), latency, API key, injected outcome, then the
work itself (`fusion`: input rules, face detection, merge).
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from local_stack.emulator.contract import (
    BodyStyle,
    Refusal,
    error_body,
    success_body,
)
from local_stack.emulator.faults import OK, FaultInjector, Faults, injected_error
from local_stack.emulator.fusion import Fusion
from local_stack.emulator.ledger import Ledger, LoggedCall

logger = logging.getLogger(__name__)

_JSON = "application/json"
_GATEWAY_REASONS = {
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}
_NOT_AN_IMAGE = b"%PDF-1.4 this is not a picture"


@dataclass(frozen=True)
class Reply:
    """What to send back: a complete HTTP answer, a dribbled one, or a reset connection."""

    status: int
    body: bytes = b""
    content_type: str = _JSON
    dribble_s: float = 0.0
    """Send the body in small pieces spread over this many seconds."""
    reset: bool = False
    """Send nothing; close the connection with a TCP reset."""
    retry_after: str | None = None
    """A `Retry-After` header to send, if any."""


def _canned_replies() -> dict[str, Callable[[BodyStyle], Reply]]:
    """The special outcomes that answer without looking at the request (in a body style)."""
    return {
        **{f"html_{status}": _gateway_reply(status) for status in _GATEWAY_REASONS},
        "truncated_json": lambda style: Reply(
            200, _truncated(success_body({"image": _b64(b"x" * 64)}, style))
        ),
        "non_json": lambda _: Reply(200, b"upstream said: \x00\x01 ok?", "text/plain"),
        "ok_without_image": lambda style: Reply(200, success_body({}, style)),
        "not_an_image": lambda style: Reply(
            200, success_body({"image": _b64(_NOT_AN_IMAGE)}, style)
        ),
        "reset": lambda _: Reply(0, reset=True),
    }


def _gateway_reply(status: int) -> Callable[[BodyStyle], Reply]:
    """A gateway's own HTML error page (nginx's), whatever the API's body style."""
    title = f"{status} {_GATEWAY_REASONS[status]}".encode()
    page = (
        b"<html>\r\n<head><title>" + title + b"</title></head>\r\n<body>\r\n"
        b"<center><h1>" + title + b"</h1></center>\r\n<hr><center>nginx</center>\r\n"
        b"</body>\r\n</html>\r\n"
    )
    return lambda _: Reply(status, page, "text/html")


def _truncated(body: bytes) -> bytes:
    return body[: len(body) // 2]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class FusionService:
    """The emulated API behind the HTTP layer: keys, faults, the merge, the ledger."""

    def __init__(
        self, api_keys: Iterable[str], faults: Faults, pause: Callable[[float], object]
    ) -> None:
        """`pause(seconds)` waits; the server passes one that a shutdown cuts short."""
        self._initial_keys = frozenset(api_keys)
        self._initial_faults = faults
        self._api_keys = self._initial_keys
        self._pause = pause
        self._canned = _canned_replies()
        self._fusion = Fusion()
        self.injector = FaultInjector(faults)
        self.ledger = Ledger()

    def set_api_keys(self, api_keys: Iterable[str]) -> None:
        """Accept these keys from now on (and no others)."""
        self._api_keys = frozenset(api_keys)

    def stats(self) -> dict[str, Any]:
        """The ledger's counters."""
        return self.ledger.snapshot()

    def reset(self) -> None:
        """Clear the counters and go back to the keys and faults the emulator started with."""
        self.ledger.reset()
        self.injector.configure(self._initial_faults)
        self._api_keys = self._initial_keys

    def reject(self, error: Refusal) -> Reply:
        """Answer a call with an API error (and count it); for refusals the server decides."""
        self.ledger.record(error.code)
        return self._error(error)

    def call(self, api_key: str | None, content_type: str | None, body: bytes) -> Reply:
        """Answer one request to the face-fusion endpoint (logged, if the ledger keeps a log)."""
        started = time.monotonic()
        reply = self._call(api_key, content_type, body)
        self.ledger.log_call(LoggedCall(started, time.monotonic(), reply.status))
        return reply

    def _call(self, api_key: str | None, content_type: str | None, body: bytes) -> Reply:
        faults = self.injector.faults
        if not self.ledger.admit(faults.concurrency_cap):
            return self.reject(
                Refusal("EXCEEDING_LIMITS", f"more than {faults.concurrency_cap} calls in flight")
            )
        try:
            self._pause(self.injector.latency_s())
            if api_key not in self._api_keys:
                return self.reject(Refusal("ERROR_USER_NOT_EXISTS", "unknown API key"))
            outcome = self.injector.next_outcome()
            try:
                reply, label = self._answer(outcome, faults, content_type, body)
            except Exception:  # a bug here must look like the API's 500, not a dropped call
                logger.exception("emulator: call failed")
                error = Refusal("SERVICE_INTERNAL_ERROR", "the emulator failed")
                reply, label = self._error(error), error.code
            self.ledger.record(label, billed=reply.status == HTTPStatus.OK)
            return reply
        finally:
            self.ledger.release()

    def _answer(
        self, outcome: str, faults: Faults, content_type: str | None, body: bytes
    ) -> tuple[Reply, str]:
        """The reply for `outcome`, and the label the ledger counts it under."""
        injected = injected_error(outcome)
        if injected is not None:
            return self._error(injected), outcome
        if outcome in self._canned:
            reply = self._canned[outcome](faults.body_style)
            if reply.status != 200:  # a gateway's page may carry retry guidance too
                reply = dataclasses.replace(reply, retry_after=faults.retry_after)
            return reply, outcome
        if outcome == "timeout":
            self._pause(faults.timeout_hold_ms / 1000)
        reply, label = self._fuse(content_type, body, faults)
        if outcome == "slow_body":
            reply = dataclasses.replace(reply, dribble_s=faults.slow_body_ms / 1000)
        return reply, label if outcome == OK else outcome

    def _fuse(self, content_type: str | None, body: bytes, faults: Faults) -> tuple[Reply, str]:
        try:
            image, fingerprint = self._fusion.run(content_type, body, faults.result_format)
        except Refusal as exc:
            return self._error(exc), exc.code
        self.ledger.record_merge(fingerprint)
        return Reply(200, success_body({"image": image}, faults.body_style)), OK

    def _error(self, error: Refusal) -> Reply:
        faults = self.injector.faults
        return Reply(
            error.status, error_body(error, faults.body_style), retry_after=faults.retry_after
        )
