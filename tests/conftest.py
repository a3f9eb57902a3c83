"""Fixtures shared by every test tier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "schemas" / "result-document.schema.json"


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
