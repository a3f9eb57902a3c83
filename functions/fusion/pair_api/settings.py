"""The Pair API's configuration, read from the environment once per cold start."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pair_api.errors import ConfigurationError
from portrait_fusion.pairs.api_pair_keys import TARGET_NAME, TEMPLATE_NAME
from portrait_fusion.pairs.pair_buckets import PairBuckets


@dataclass(frozen=True)
class PairApiSettings(PairBuckets):
    """Where pairs, the catalogue, results and pair records live, how long presigned URLs
    stay valid, and each owner's daily call budget."""

    max_upload_bytes: int
    table: str = ""
    catalogue_prefix: str = "catalogue/"
    upload_expires_seconds: int = 300
    result_url_expires_seconds: int = 300
    owner_daily_call_budget: int = 50  # 0 = no cap
    result_retention_days: int = 30  # a pair's record lives as long (0 = kept)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PairApiSettings:
        """Build settings from environment variables; raise `ConfigurationError` naming one."""
        settings = cls(
            input_bucket=_required(env, "INPUT_BUCKET"),
            output_bucket=_required(env, "OUTPUT_BUCKET"),
            max_upload_bytes=_integer(env, "MAX_UPLOAD_BYTES", None, low=1),
            table=_required(env, "IDEMPOTENCY_TABLE"),
            input_prefix=_prefix(env, "INPUT_PREFIX", "incoming/"),
            output_prefix=_prefix(env, "OUTPUT_PREFIX", "results/"),
            catalogue_prefix=_prefix(env, "CATALOGUE_PREFIX", "catalogue/"),
            upload_expires_seconds=_integer(env, "UPLOAD_EXPIRES_SECONDS", 300, low=30),
            result_url_expires_seconds=_integer(env, "RESULT_URL_EXPIRES_SECONDS", 300, low=30),
            owner_daily_call_budget=_integer(env, "OWNER_DAILY_CALL_BUDGET", 50, low=0),
            result_retention_days=_integer(env, "RESULT_RETENTION_DAYS", 30, low=0),
        )
        if settings.catalogue_prefix.startswith(settings.input_prefix):
            raise ConfigurationError(
                f"CATALOGUE_PREFIX {settings.catalogue_prefix!r} is inside INPUT_PREFIX "
                f"{settings.input_prefix!r}: adding a template would trigger the pipeline"
            )
        _check_pattern(env, settings.input_prefix)
        return settings


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is required but not set")
    return value


def _prefix(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if value.startswith("/") or not value.endswith("/"):
        raise ConfigurationError(f"environment variable {name} must end with '/', got {value!r}")
    return value


def _integer(env: Mapping[str, str], name: str, default: int | None, *, low: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        if default is None:
            raise ConfigurationError(f"environment variable {name} is required but not set")
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or int(raw) < low:
        raise ConfigurationError(f"environment variable {name} must be an integer >= {low}")
    return int(raw)


def _check_pattern(env: Mapping[str, str], input_prefix: str) -> None:
    """Refuse a PAIR_PATTERN that would not see the keys this API hands out."""
    source = env.get("PAIR_PATTERN", "").strip()
    if not source:
        return
    pattern = re.compile(source)
    for name in (TARGET_NAME, TEMPLATE_NAME):
        if not pattern.match(f"{input_prefix}0123abcd/{name}"):
            raise ConfigurationError(
                f"environment variable PAIR_PATTERN does not match {input_prefix}<pair>/{name}, "
                "the keys the Pair API hands out"
            )
