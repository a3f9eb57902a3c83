"""The Pair API's errors: each one is an HTTP status, a stable code and a message."""

from __future__ import annotations

from typing import Any


class PairApiError(Exception):
    """A request the API answers with a JSON error body `{"error": {"code", "message"}}`.

    A subclass names its answer in its class line: `class X(PairApiError, status=..., code=...)`.
    """

    status = 500
    code = "INTERNAL_ERROR"

    def __init_subclass__(cls, *, status: int, code: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = status
        cls.code = code

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # the request field at fault, when there is one


class InvalidRequest(PairApiError, status=400, code="INVALID_REQUEST"):
    """The request's body or path names something wrong (the message names the field)."""


class Unauthenticated(PairApiError, status=401, code="UNAUTHENTICATED"):
    """The request carries no caller identity (a route deployed without an authorizer)."""


class UnknownPair(PairApiError, status=404, code="PAIR_NOT_FOUND"):
    """No pair with this id was created by the caller (or it has been erased): a pair of
    another owner answers exactly the same, so the answer tells nothing about it."""


class BodyTooLarge(PairApiError, status=413, code="REQUEST_TOO_LARGE"):
    """The request body is larger than any valid request."""


class UnsupportedMediaType(PairApiError, status=415, code="UNSUPPORTED_MEDIA_TYPE"):
    """The request body is not JSON."""


class BudgetSpent(PairApiError, status=429, code="DAILY_BUDGET_EXHAUSTED"):
    """The caller's merges for today are spent: a new pair would wait for tomorrow."""


class StoreUnavailable(PairApiError, status=500, code="STORAGE_ERROR"):
    """S3 refused or failed a call the request needed."""


class ConfigurationError(Exception):
    """The function's environment is wrong; the message names the variable."""
