"""One error hierarchy for the whole function.

Every error carries the `code` that ends up in a result document, the `stage` it happened in,
and whether another attempt could succeed. Entry points map errors to outcomes through
`Disposition` alone, never by matching message text.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """Where in the life of a pair an error happened (the result document's `error.stage`)."""

    PAIRING = "pairing"
    PREFLIGHT = "preflight"
    API = "api"
    OUTPUT = "output"


class Disposition(StrEnum):
    """What the pipeline does with a pair after an error."""

    FAIL = "fail"  # permanent: write a `failed` result document, never retry
    RETRY = "retry"  # transient: hand the pair back for a later attempt
    HOLD = "hold"  # operational: hand back without in-function retries until a human fixes it


class FusionError(Exception):
    """Base class of every error the function raises on purpose."""

    code: str = "UNKNOWN_ERROR"
    stage: Stage = Stage.PAIRING
    disposition: Disposition = Disposition.FAIL

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        log_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.http_status = http_status
        self.request_id = request_id
        self.log_id = log_id
        # Seconds before another attempt is worth making, when the cause says so (a
        # `Retry-After` header, a spent budget); None leaves the choice to the retry policy.
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether a later attempt at the same pair may succeed."""
        return self.disposition is not Disposition.FAIL

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ConfigurationError(FusionError):
    """An environment variable is missing or invalid; raised at cold start."""

    code = "INVALID_CONFIGURATION"
    disposition = Disposition.HOLD


class InvalidEventError(FusionError):
    """The event is of no kind the function understands, or lacks a required field."""

    code = "ERROR_INVALID_EVENT"


class PairingError(FusionError):
    """The pair cannot be assembled: ambiguous halves, or an input vanished."""

    stage = Stage.PAIRING


class PreflightError(FusionError):
    """An input breaks one of the API's documented rules; no API call is made."""

    stage = Stage.PREFLIGHT


class ApiError(FusionError):
    """The face-fusion API answered with an error (or did not answer usefully)."""

    stage = Stage.API
    attempts: int = 1  # HTTP calls made before giving up, for the result document
    # Request ids of this pair's billed 200s that could not be used (the paid-call bound).
    unusable_request_ids: tuple[str | None, ...] = ()


class PermanentApiError(ApiError):
    """The API refused the pair for good (bad input, face quality, ...)."""


class TransientApiError(ApiError):
    """Rate limit, server fault, timeout or protocol error: worth another attempt later."""

    disposition = Disposition.RETRY


class OperationalApiError(ApiError):
    """Bad key, locked account, no credits: needs a human; the pair waits in the queue/DLQ."""

    disposition = Disposition.HOLD


class PairInProgressError(FusionError):
    """Another invocation is working on the same pair right now; try again later."""

    code = "PAIR_IN_PROGRESS"
    disposition = Disposition.RETRY


class StorageError(FusionError):
    """Reading or writing S3 failed for a reason that may pass (throttling, 5xx, denied write)."""

    code = "STORAGE_ERROR"
    stage = Stage.OUTPUT
    disposition = Disposition.RETRY


class OutOfTimeError(FusionError):
    """Too little of the invocation's time is left to start or retry work safely."""

    code = "OUT_OF_TIME"
    disposition = Disposition.RETRY
