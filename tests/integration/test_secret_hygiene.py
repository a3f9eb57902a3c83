"""The API key never appears in logs, metrics, documents, exceptions or responses."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from local_stack.emulator import Faults, FusionEmulator
from tests import images
from tests.harness import API_KEY, Buckets, unique_pair


def test_the_key_appears_nowhere_in_what_a_run_emits(
    function: Any,
    configure: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure(POWERTOOLS_LOG_LEVEL="DEBUG")
    caplog.set_level(logging.DEBUG)
    # In Lambda the function's logger takes POWERTOOLS_LOG_LEVEL at cold start (import); in
    # this process it was imported already, so give it the level that variable would.
    caplog.set_level(logging.DEBUG, logger="portrait-fusion")
    emitted: list[str] = []
    scenarios = [
        Faults(),
        Faults(script=("SERVICE_INTERNAL_ERROR",) * 4),
        Faults(script=("ERROR_USER_LOCKED",)),
        Faults(script=("ERROR_NO_FACE_IN_FILE",)),
        Faults(script=("html_502", "truncated_json", "not_an_image", "ok_without_image")),
    ]
    for faults in scenarios:
        emulator.set_faults(faults)
        pair_id = unique_pair()
        buckets.upload(pair_id, "target", images.as_jpeg())
        buckets.upload(pair_id, "template", images.as_png(), "png")
        emitted.append(json.dumps(function.deliver(), default=str))
        emitted.append(json.dumps(buckets.document(pair_id)))
    # A bad key: the 401 path re-reads the secret and raises an operational error
    emulator.set_api_keys({"another-key"})
    pair_id = unique_pair()
    buckets.upload(pair_id, "target", images.as_jpeg())
    buckets.upload(pair_id, "template", images.as_png(), "png")
    emitted.append(json.dumps(function.deliver(), default=str))
    out, err = capfd.readouterr()
    emitted += [out, err, caplog.text]
    emitted += [repr(record.__dict__) for record in caplog.records]

    everything = "\n".join(emitted)
    # We did capture the function's own DEBUG output, on the path that handles the key
    # (first read and the re-read after the 401), and its metrics
    key_reads = [
        record
        for record in caplog.records
        if record.name == "portrait-fusion" and record.getMessage().startswith("API key read")
    ]
    assert {record.levelname for record in key_reads} == {"DEBUG"}
    assert any(record.refresh for record in key_reads)  # type: ignore[attr-defined]
    assert "PairsSucceeded" in everything
    assert API_KEY not in everything
    assert API_KEY[:12] not in everything
