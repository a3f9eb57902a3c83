"""The Pair API's errors: each one is an HTTP status, a stable code and a message."""

from __future__ import annotations


class PairApiError(Exception):
    """A request the API answers with a JSON error body `{"error": {"code", "message"}}`."""

    status = 500
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # the request field at fault, when there is one


class InvalidRequest(PairApiError):
    """The request's body or path names something wrong (the message names the field)."""

    status = 400
    code = "INVALID_REQUEST"


class UnknownPair(PairApiError):
    """No pair with this id was ever created (or it has been erased)."""

    status = 404
    code = "PAIR_NOT_FOUND"


class BodyTooLarge(PairApiError):
    """The request body is larger than any valid request."""

    status = 413
    code = "REQUEST_TOO_LARGE"


class UnsupportedMediaType(PairApiError):
    """The request body is not JSON."""

    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class StoreUnavailable(PairApiError):
    """S3 refused or failed a call the request needed."""

    status = 500
    code = "STORAGE_ERROR"


class ConfigurationError(Exception):
    """The function's environment is wrong; the message names the variable."""
