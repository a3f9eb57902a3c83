"""One HTTPS emulator for the whole directory, reset after every test; the portraits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_stack.emulator import FusionEmulator
from tests.emulator.support import API_KEY, FusionClient
from tests.images import portrait


@pytest.fixture(scope="session")
def emulator() -> Iterator[FusionEmulator]:
    with FusionEmulator(api_keys={API_KEY}, tls=True) as emu:
        yield emu


@pytest.fixture
def client(emulator: FusionEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[FusionClient]:
    """A client that trusts the emulator the standard way; the emulator is reset afterwards."""
    ca_bundle = emulator.ca_bundle
    assert ca_bundle is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle)
    yield FusionClient(emulator)
    emulator.reset()


@pytest.fixture(scope="session")
def astronaut() -> bytes:
    return portrait("astronaut.png")


@pytest.fixture(scope="session")
def hopper() -> bytes:
    return portrait("grace_hopper.jpg")
