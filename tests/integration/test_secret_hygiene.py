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
    assert '"level":"DEBUG"' in everything or "DEBUG" in everything  # we did capture logs
    assert "PairsSucceeded" in everything  # ... and metrics
    assert API_KEY not in everything
    assert API_KEY[:12] not in everything
