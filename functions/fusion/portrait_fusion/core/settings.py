"""The function's configuration, read from the environment once per cold start.

Every variable is validated here, and a bad one raises `ConfigurationError` naming it, so a
misconfigured stack fails at its first invocation with a message an operator can act on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from portrait_fusion.core.errors import ConfigurationError

DEFAULT_PAIR_PATTERN = (
    r"^incoming/(?P<pair>.+)/(?i:(?P<role>target|template))"
    r"\.(?i:jpe?g|png|bmp|heic|heif|avif|webp)$"
)
DEFAULT_FUSION_API_URL = "https://www.ailabapi.com/api/portrait/effects/face-fusion"
# A week: long enough to absorb late redeliveries and Batch Operations replays of a backfill.
RECORD_TTL_SECONDS = 7 * 24 * 3600


def record_ttl_seconds(result_retention_days: int) -> int:
    """A record names its pair's result, so it never outlives it (0 days: results are kept)."""
    if not result_retention_days:
        return RECORD_TTL_SECONDS
    return min(RECORD_TTL_SECONDS, result_retention_days * 24 * 3600)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """Validated configuration of the fusion function (the README's parameter table)."""

    output_bucket: str
    api_key_secret_id: str
    idempotency_table: str
    output_prefix: str = "results/"
    input_bucket: str | None = None
    input_prefix: str = "incoming/"
    pair_pattern: re.Pattern[str] = re.compile(DEFAULT_PAIR_PATTERN)
    fusion_api_url: str = DEFAULT_FUSION_API_URL
    default_source_similarity: float | None = None
    api_timeout_seconds: float = 30.0
    api_max_attempts: int = 4
    secret_max_age_seconds: int = 300
    auto_fit: bool = True
    event_bus_name: str | None = None  # None: no completion events
    partner_timeout_minutes: float = 1440.0
    daily_call_budget: int = 2000  # paid calls per UTC day; 0 = no cap
    tenant_daily_call_budget: int = 0  # per `tenant` group of PAIR_PATTERN; 0 = no cap
    owner_daily_call_budget: int = 50  # per owner of Pair API pairs; 0 = no cap
    reuse_identical_results: bool = True
    reuse_across_owners: bool = False  # re-use never crosses owners unless this is set
    result_retention_days: int = 30  # 0 keeps results (and re-use records) for ever
    pull_from_queue: bool = True  # an SQS invocation goes on with the queue's next messages

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from environment variables; raise `ConfigurationError` on bad input."""
        reader = _EnvReader(env)
        settings = cls(
            output_bucket=reader.required("OUTPUT_BUCKET"),
            api_key_secret_id=reader.required("API_KEY_SECRET_ID"),
            idempotency_table=reader.required("IDEMPOTENCY_TABLE"),
            output_prefix=reader.prefix("OUTPUT_PREFIX", "results/"),
            input_bucket=reader.optional("INPUT_BUCKET"),
            input_prefix=reader.prefix("INPUT_PREFIX", "incoming/"),
            pair_pattern=reader.pair_pattern("PAIR_PATTERN"),
            fusion_api_url=reader.api_url("FUSION_API_URL", "ALLOW_INSECURE_API_URL"),
            default_source_similarity=reader.similarity("DEFAULT_SOURCE_SIMILARITY"),
            api_timeout_seconds=reader.number("API_TIMEOUT_SECONDS", 30.0, low=1.0, high=900.0),
            api_max_attempts=int(
                reader.number("API_MAX_ATTEMPTS", 4, low=1, high=10, integer=True)
            ),
            secret_max_age_seconds=int(
                reader.number("SECRET_MAX_AGE_SECONDS", 300, low=0, high=86400, integer=True)
            ),
            auto_fit=reader.flag("AUTO_FIT", default=True),
            event_bus_name=reader.optional("EVENT_BUS_NAME"),
            # Fractions of a minute let tests expire a half within seconds.
            partner_timeout_minutes=reader.number(
                "PARTNER_TIMEOUT_MINUTES", 1440.0, low=0.01, high=525600.0
            ),
            daily_call_budget=reader.count("DAILY_CALL_BUDGET", 2000),
            tenant_daily_call_budget=reader.count("TENANT_DAILY_CALL_BUDGET", 0),
            owner_daily_call_budget=reader.count("OWNER_DAILY_CALL_BUDGET", 50),
            reuse_identical_results=reader.flag("REUSE_IDENTICAL_RESULTS", default=True),
            reuse_across_owners=reader.flag("REUSE_ACROSS_OWNERS", default=False),
            result_retention_days=reader.count("RESULT_RETENTION_DAYS", 30, high=3650),
            pull_from_queue=reader.flag("PULL_FROM_QUEUE", default=True),
        )
        settings.check_no_trigger_loop()
        settings.check_tenant_budget()
        return settings

    def check_tenant_budget(self) -> None:
        """A per-tenant budget needs a `tenant` group in PAIR_PATTERN to find the tenant."""
        if self.tenant_daily_call_budget and "tenant" not in self.pair_pattern.groupindex:
            raise ConfigurationError(
                "environment variable TENANT_DAILY_CALL_BUDGET needs a named group 'tenant' "
                "in PAIR_PATTERN (e.g. ^incoming/(?P<tenant>[^/]+)/(?P<pair>[^/]+)/...)"
            )

    def check_no_trigger_loop(self) -> None:
        """Refuse an output location that would trigger the function again."""
        if self.input_bucket is None or self.input_bucket != self.output_bucket:
            return
        out, inp = self.output_prefix, self.input_prefix
        if out.startswith(inp) or inp.startswith(out):
            raise ConfigurationError(
                f"OUTPUT_PREFIX {out!r} overlaps INPUT_PREFIX {inp!r} in the same bucket "
                f"{self.output_bucket!r}: results would trigger the function again",
                code="INVALID_CONFIGURATION",
            )


class _EnvReader:
    """Small typed accessors over the environment that name the variable in every error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def _raw(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    @staticmethod
    def _fail(name: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"environment variable {name} {problem}")

    def required(self, name: str) -> str:
        value = self._raw(name)
        if value is None:
            raise self._fail(name, "is required but not set")
        return value

    def optional(self, name: str) -> str | None:
        return self._raw(name)

    def prefix(self, name: str, default: str) -> str:
        value = self._env.get(name, default)
        if value.startswith("/"):
            raise self._fail(name, f"must not start with '/': {value!r}")
        if value and not value.endswith("/"):
            value += "/"
        return value

    def pair_pattern(self, name: str) -> re.Pattern[str]:
        source = self._raw(name) or DEFAULT_PAIR_PATTERN
        try:
            pattern = re.compile(source)
        except re.error as exc:
            raise self._fail(name, f"is not a valid regular expression: {exc}") from exc
        missing = {"pair", "role"} - set(pattern.groupindex)
        if missing:
            raise self._fail(
                name,
                f"needs the named groups 'pair' and 'role' (missing: {', '.join(sorted(missing))})",
            )
        return pattern

    def api_url(self, name: str, insecure_flag: str) -> str:
        url = self._raw(name) or DEFAULT_FUSION_API_URL
        parsed = urlparse(url)
        allow_http = self.flag(insecure_flag, default=False)
        if (
            parsed.scheme not in ({"https", "http"} if allow_http else {"https"})
            or not parsed.netloc
        ):
            raise self._fail(
                name,
                f"must be an https:// URL (http only with {insecure_flag}=true), got {url!r}",
            )
        return url

    def similarity(self, name: str) -> float | None:
        raw = self._raw(name)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not 0.0 <= value <= 1.0:
            raise self._fail(name, f"must be a number in [0, 1], got {raw!r}")
        return value

    def number(
        self, name: str, default: float, *, low: float, high: float, integer: bool = False
    ) -> float:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            value = math.nan
        if not low <= value <= high:
            kind = "an integer" if integer else "a number"
            raise self._fail(name, f"must be {kind} in [{low:g}, {high:g}], got {raw!r}")
        return value

    def count(self, name: str, default: int, *, high: int = 10_000_000) -> int:
        """A whole number from 0 to `high` (0 means "no limit" or "keep" where it applies)."""
        return int(self.number(name, default, low=0, high=high, integer=True))

    def flag(self, name: str, *, default: bool) -> bool:
        raw = self._raw(name)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise self._fail(name, f"must be true or false, got {raw!r}")
