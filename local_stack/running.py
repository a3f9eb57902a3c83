"""Parts of the local stack that run in the background between ``start()`` and ``stop()``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class Stopping(ABC):
    """A part already running, used as ``with part:`` to stop it on exit (also on an error)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop and release what starting took."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class Running(Stopping):
    """A part used as ``with part:``: started on entry, stopped on exit (also on an error)."""

    @abstractmethod
    def start(self) -> object:
        """Begin running in the background."""

    def __enter__(self) -> Self:
        self.start()
        return self
