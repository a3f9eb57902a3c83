"""Configuration of completion events and the partner timeout."""

from __future__ import annotations

import pytest

from portrait_fusion.core.errors import ConfigurationError
from portrait_fusion.core.settings import Settings

BASE = {"OUTPUT_BUCKET": "out", "API_KEY_SECRET_ID": "secret", "IDEMPOTENCY_TABLE": "table"}


def test_events_are_off_and_the_timeout_is_a_day_unless_set() -> None:
    settings = Settings.from_env(BASE)
    assert settings.event_bus_name is None
    assert settings.partner_timeout_minutes == 1440


def test_the_bus_and_a_fractional_timeout_are_read() -> None:
    settings = Settings.from_env(
        {**BASE, "EVENT_BUS_NAME": "orders", "PARTNER_TIMEOUT_MINUTES": "0.5"}
    )
    assert (settings.event_bus_name, settings.partner_timeout_minutes) == ("orders", 0.5)


def test_an_empty_bus_name_turns_events_off() -> None:
    assert Settings.from_env({**BASE, "EVENT_BUS_NAME": ""}).event_bus_name is None


@pytest.mark.parametrize("value", ["0", "-1", "soon", "600000"])
def test_a_bad_partner_timeout_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match="PARTNER_TIMEOUT_MINUTES"):
        Settings.from_env({**BASE, "PARTNER_TIMEOUT_MINUTES": value})
