"""Fixtures shared by every test tier."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from local_stack.aws import MotoServer
from local_stack.emulator import FusionEmulator
from tests.aws_endpoint import ExternalEndpoint, aws_endpoint, on_moto
from tests.harness import API_KEY
from tests.tier_times import pytest_runtest_logreport, pytest_terminal_summary

__all__ = ["pytest_runtest_logreport", "pytest_terminal_summary"]  # hooks: each tier's time

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
def moto() -> Iterator[MotoServer | ExternalEndpoint]:
    """AWS for the tiers that need it (each uses its own names): moto's server on 127.0.0.1,
    one per test process, or the endpoint in AWS_ENDPOINT_URL (tests/aws_endpoint.py)."""
    with aws_endpoint() as endpoint:
        yield endpoint


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the tests marked `moto_only` when AWS is not a moto server of this process."""
    for item in items:
        marker = item.get_closest_marker("moto_only")
        if marker is None:
            continue
        reason = marker.kwargs.get("reason")
        if not reason:
            raise pytest.UsageError(f"{item.nodeid}: moto_only needs reason=...")
        if not on_moto():
            item.add_marker(pytest.mark.skip(reason=f"moto only: {reason}"))


@pytest.fixture(scope="session")
def emulator() -> Iterator[FusionEmulator]:
    """The face-fusion emulator over HTTPS, accepting the tests' API key."""
    with FusionEmulator(api_keys={API_KEY}, tls=True) as emu:
        yield emu
