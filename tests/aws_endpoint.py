"""Where the tiers that need AWS find it: `AWS_ENDPOINT_URL` when set (LocalStack, say), else
a moto server of their own on 127.0.0.1, as CI runs them.

On a shared endpoint each test process names its resources apart (see `tier_names`), and
tests that read moto's own state are marked `moto_only` with the reason, and skipped there.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from local_stack.aws import MotoServer, start_moto

ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
# Set once per test process: every resource a process creates on a shared endpoint carries it.
_RUN = uuid.uuid4().hex[:6]


def external_endpoint() -> str | None:
    """The endpoint given in the environment, if any."""
    return os.environ.get(ENDPOINT_VARIABLE) or None


def on_moto() -> bool:
    """Whether the tests run on a moto server they started themselves."""
    return external_endpoint() is None


@dataclass(frozen=True)
class ExternalEndpoint:
    """An AWS endpoint that this process did not start, and so does not stop."""

    endpoint_url: str

    def stop(self) -> None:
        """Nothing to stop: the endpoint outlives the tests."""


@contextlib.contextmanager
def aws_endpoint() -> Iterator[MotoServer | ExternalEndpoint]:
    """The endpoint from the environment, or a moto server stopped on exit."""
    url = external_endpoint()
    if url is not None:
        yield ExternalEndpoint(url)
        return
    with start_moto() as server:
        yield server


def tier_names(prefix: str) -> str:
    """Resource names for one tier: as given on a moto of this process's own, made unique
    per test process on a shared endpoint (several workers, earlier runs)."""
    return prefix if on_moto() else f"{prefix}-{_RUN}"
