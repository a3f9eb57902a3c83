"""Fixtures shared by every test tier."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from local_stack.aws import MotoServer, start_moto
from local_stack.emulator import FusionEmulator
from tests.harness import API_KEY

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "schemas" / "result-document.schema.json"
VIEW_SCHEMA_PATH = ROOT / "schemas" / "pair-view.schema.json"


def load_event(name: str) -> dict[str, Any]:
    """A stored event: first the console-ready ones in `events/`, then `tests/events/`."""
    for folder in (ROOT / "events", ROOT / "tests" / "events"):
        path = folder / name
        if path.exists():
            return json.loads(path.read_text())
    raise FileNotFoundError(name)


@pytest.fixture(scope="session")
def result_schema() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture
def assert_valid_document(result_schema: jsonschema.protocols.Validator) -> Any:
    """Validate a result document against the published JSON Schema."""

    def check(document: dict[str, Any]) -> dict[str, Any]:
        errors = sorted(result_schema.iter_errors(document), key=str)
        assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
        return document

    return check


def assert_pair_view(view: dict[str, Any]) -> dict[str, Any]:
    """Validate a `GET /pairs/{pair_id}` answer against the published view schema."""
    schema = json.loads(VIEW_SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(view), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    return view


@pytest.fixture(autouse=True)
def no_stray_metrics() -> Iterator[None]:
    """Start and end every test with no metric data points pending: code run outside a
    handler (unit tests) adds points that the next handler's flush would otherwise publish
    as its own."""
    from portrait_fusion.core.observability import metrics

    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """moto's server on 127.0.0.1, for the tiers that need AWS (each uses its own names)."""
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def emulator() -> Iterator[FusionEmulator]:
    """The face-fusion emulator over HTTPS, accepting the tests' API key."""
    with FusionEmulator(api_keys={API_KEY}, tls=True) as emu:
        yield emu
