"""Make moto's DynamoDB writes atomic, as DynamoDB's are.

moto evaluates a conditional write's condition and applies the write in two steps with no
lock between them, so two concurrent `ADD spent :one IF spent < :cap` can both pass. Real
DynamoDB serialises writes to one item. Holding one lock around each of moto's write
operations (in the moto server running in the test process) restores that guarantee: it
changes the store, never the code under test, and makes a race test deterministic in what
it may observe.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend

from tests.aws_endpoint import on_moto

_WRITES = ("put_item", "update_item", "delete_item")


@pytest.fixture
def atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if not on_moto():
        yield
        return
    lock = threading.Lock()

    def serialised(write: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(write)
        def run(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return write(*args, **kwargs)

        return run

    for name in _WRITES:
        monkeypatch.setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))
    yield
