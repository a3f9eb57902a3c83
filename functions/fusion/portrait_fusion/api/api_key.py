"""The AILabTools API key, read from Secrets Manager and cached for SECRET_MAX_AGE_SECONDS."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from portrait_fusion.core.errors import OperationalApiError
from portrait_fusion.core.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class ApiKey:
    """A secret string that never shows itself in logs, reprs or exception messages."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The key itself: only for the request header."""
        return self._value

    def __repr__(self) -> str:
        return "ApiKey('****')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def parse_secret(secret_string: str) -> str:
    """The key from a secret value: either the bare key or JSON `{"api_key": "..."}`."""
    text = secret_string.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        key = document.get("api_key") if isinstance(document, dict) else None
        return key.strip() if isinstance(key, str) else ""
    return text


class ApiKeyProvider:
    """Reads the key lazily, caches it, and re-reads on demand (a 401 may mean rotation)."""

    def __init__(
        self,
        client_factory: Callable[[], SecretsManagerClient],
        secret_id: str,
        max_age_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client_factory = client_factory
        self._secret_id = secret_id
        self._max_age = max_age_seconds
        self._clock = clock
        self._cached: tuple[ApiKey, float] | None = None
        self._lock = threading.Lock()

    def get(self, *, refresh: bool = False) -> ApiKey:
        """The current key; `refresh` forces a new read from Secrets Manager."""
        with self._lock:
            now = self._clock()
            if refresh or self._cached is None or now - self._cached[1] >= self._max_age:
                self._cached = (self._read(), now)
                logger.debug(
                    "API key read from Secrets Manager",
                    extra={"secret_id": self._secret_id, "refresh": refresh},
                )
            return self._cached[0]

    def forget(self) -> None:
        """Drop the cached key: the next `get` reads the secret again."""
        with self._lock:
            self._cached = None

    def _read(self) -> ApiKey:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client_factory().get_secret_value(SecretId=self._secret_id)
        except (ClientError, BotoCoreError) as exc:
            raise OperationalApiError(
                f"cannot read the API key secret {self._secret_id!r}: {type(exc).__name__}",
                code="ERROR_API_KEY_UNAVAILABLE",
            ) from exc
        key = parse_secret(response.get("SecretString") or "")
        if not key:
            raise OperationalApiError(
                f"the secret {self._secret_id!r} holds no API key (expected the bare key or "
                '{"api_key": "..."})',
                code="ERROR_API_KEY_UNAVAILABLE",
            )
        return ApiKey(key)
