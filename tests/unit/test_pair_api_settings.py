"""The Pair API's environment: validated at cold start, each mistake naming its variable."""

import pytest

from pair_api.errors import ConfigurationError
from pair_api.settings import PairApiSettings

BASE = {
    "INPUT_BUCKET": "in",
    "OUTPUT_BUCKET": "out",
    "MAX_UPLOAD_BYTES": "4194304",
    "IDEMPOTENCY_TABLE": "records",
}
DEFAULT_PATTERN = r"^incoming/(?P<pair>.+)/(?i:(?P<role>target|template))\.(?i:jpe?g|png|bmp)$"


def test_defaults_match_the_template() -> None:
    settings = PairApiSettings.from_env({**BASE, "PAIR_PATTERN": DEFAULT_PATTERN})
    assert (settings.input_prefix, settings.catalogue_prefix, settings.output_prefix) == (
        "incoming/",
        "catalogue/",
        "results/",
    )
    assert (settings.upload_expires_seconds, settings.max_upload_bytes) == (300, 4194304)
    assert (settings.owner_daily_call_budget, settings.result_retention_days) == (50, 30)


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"INPUT_BUCKET": ""}, "INPUT_BUCKET"),
        ({"MAX_UPLOAD_BYTES": ""}, "MAX_UPLOAD_BYTES"),
        ({"MAX_UPLOAD_BYTES": "-1"}, "MAX_UPLOAD_BYTES"),
        ({"UPLOAD_EXPIRES_SECONDS": "5"}, "UPLOAD_EXPIRES_SECONDS"),
        ({"IDEMPOTENCY_TABLE": ""}, "IDEMPOTENCY_TABLE"),
        ({"OWNER_DAILY_CALL_BUDGET": "-1"}, "OWNER_DAILY_CALL_BUDGET"),
        ({"OWNER_DAILY_CALL_BUDGET": "ten"}, "OWNER_DAILY_CALL_BUDGET"),
        ({"RESULT_RETENTION_DAYS": "1e3"}, "RESULT_RETENTION_DAYS"),
        ({"CATALOGUE_PREFIX": "catalogue"}, "CATALOGUE_PREFIX"),
        ({"CATALOGUE_PREFIX": "incoming/catalogue/"}, "CATALOGUE_PREFIX"),
        (
            {"PAIR_PATTERN": r"^uploads/(?P<pair>.+)_(?P<role>target|template)\.\w+$"},
            "PAIR_PATTERN",
        ),
    ],
)
def test_a_bad_variable_is_named(overrides: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        PairApiSettings.from_env({**BASE, **overrides})
