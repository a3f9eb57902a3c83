"""A hand-back for a pair in progress elsewhere is routine: INFO, not WARNING."""

from __future__ import annotations

import logging

import pytest

from portrait_fusion.core.errors import PairInProgressError, TransientApiError
from portrait_fusion.entry.entrypoints import _log_handed_back


@pytest.mark.parametrize(
    ("error", "level"),
    [
        (PairInProgressError("another invocation holds the pair"), logging.INFO),
        (TransientApiError("429", code="EXCEEDING_LIMITS"), logging.WARNING),
    ],
)
def test_hand_back_log_level_follows_the_reason(
    error: PairInProgressError | TransientApiError, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _log_handed_back(error, message_id="m1")
    (record,) = [r for r in caplog.records if "handed back" in r.getMessage()]
    assert record.levelno == level
    assert getattr(record, "message_id", None) == "m1"
