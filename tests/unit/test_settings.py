"""Configuration: validated at cold start, every error names its variable."""

from __future__ import annotations

import pytest

from portrait_fusion.core.errors import ConfigurationError
from portrait_fusion.core.settings import DEFAULT_FUSION_API_URL, Settings

BASE = {"OUTPUT_BUCKET": "out", "API_KEY_SECRET_ID": "secret", "IDEMPOTENCY_TABLE": "table"}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.output_prefix == "results/"
    assert settings.fusion_api_url == DEFAULT_FUSION_API_URL
    assert settings.default_source_similarity is None
    assert settings.auto_fit is True
    assert settings.pull_from_queue is True
    assert (settings.api_timeout_seconds, settings.api_max_attempts) == (30.0, 4)
    assert settings.pair_pattern.match("incoming/a/TARGET.Jpeg")


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "OUTPUT_PREFIX": "out/put",
            "INPUT_BUCKET": "in",
            "INPUT_PREFIX": "up/",
            "PAIR_PATTERN": r"^up/(?P<pair>.+)_(?P<role>target|template)\.\w+$",
            "FUSION_API_URL": "http://127.0.0.1:9/x",
            "ALLOW_INSECURE_API_URL": "true",
            "DEFAULT_SOURCE_SIMILARITY": "0.4",
            "API_TIMEOUT_SECONDS": "12.5",
            "API_MAX_ATTEMPTS": "2",
            "SECRET_MAX_AGE_SECONDS": "0",
            "AUTO_FIT": "false",
            "PULL_FROM_QUEUE": "false",
        }
    )
    assert settings.output_prefix == "out/put/"
    assert (settings.input_bucket, settings.input_prefix) == ("in", "up/")
    assert settings.fusion_api_url == "http://127.0.0.1:9/x"
    assert settings.default_source_similarity == 0.4
    assert (settings.api_timeout_seconds, settings.api_max_attempts) == (12.5, 2)
    assert (settings.secret_max_age_seconds, settings.auto_fit) == (0, False)
    assert settings.pull_from_queue is False


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"OUTPUT_BUCKET": ""}, "OUTPUT_BUCKET"),
        ({"API_KEY_SECRET_ID": " "}, "API_KEY_SECRET_ID"),
        ({"IDEMPOTENCY_TABLE": ""}, "IDEMPOTENCY_TABLE"),
        ({"PAIR_PATTERN": "(unclosed"}, "PAIR_PATTERN"),
        ({"PAIR_PATTERN": r"^incoming/(?P<pair>.+)\.jpg$"}, "PAIR_PATTERN"),
        ({"FUSION_API_URL": "http://api.example/x"}, "FUSION_API_URL"),
        (
            {"FUSION_API_URL": "ftp://api.example/x", "ALLOW_INSECURE_API_URL": "true"},
            "FUSION_API_URL",
        ),
        ({"ALLOW_INSECURE_API_URL": "maybe"}, "ALLOW_INSECURE_API_URL"),
        ({"DEFAULT_SOURCE_SIMILARITY": "1.5"}, "DEFAULT_SOURCE_SIMILARITY"),
        ({"DEFAULT_SOURCE_SIMILARITY": "abc"}, "DEFAULT_SOURCE_SIMILARITY"),
        ({"API_TIMEOUT_SECONDS": "0"}, "API_TIMEOUT_SECONDS"),
        ({"API_MAX_ATTEMPTS": "2.5"}, "API_MAX_ATTEMPTS"),
        ({"SECRET_MAX_AGE_SECONDS": "-1"}, "SECRET_MAX_AGE_SECONDS"),
        ({"AUTO_FIT": "sometimes"}, "AUTO_FIT"),
        ({"PULL_FROM_QUEUE": "often"}, "PULL_FROM_QUEUE"),
        ({"OUTPUT_PREFIX": "/results"}, "OUTPUT_PREFIX"),
    ],
)
def test_a_bad_variable_is_named_in_the_error(overrides: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({**BASE, **overrides})
    assert variable in str(caught.value)


@pytest.mark.parametrize(
    ("output_prefix", "input_prefix"),
    [
        ("incoming/results/", "incoming/"),
        ("", "incoming/"),
        ("data/", "data/in/"),
    ],
)
def test_an_output_that_would_retrigger_the_function_is_refused(
    output_prefix: str, input_prefix: str
) -> None:
    with pytest.raises(ConfigurationError, match="trigger the function again"):
        Settings.from_env(
            {
                **BASE,
                "INPUT_BUCKET": "out",
                "OUTPUT_PREFIX": output_prefix,
                "INPUT_PREFIX": input_prefix,
            }
        )


def test_same_bucket_with_separate_prefixes_is_allowed() -> None:
    settings = Settings.from_env({**BASE, "INPUT_BUCKET": "out"})
    assert settings.input_bucket == settings.output_bucket
