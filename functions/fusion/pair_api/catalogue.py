"""The template catalogue: scenes stored once under a prefix outside the trigger prefix.

Each entry is `<CATALOGUE_PREFIX><template_id>.<width>x<height>.<ext>`, written by
`python -m ops.catalogue add` after the API's template rules passed: its name says what the
catalogue shows, so one listing reads the whole catalogue (no request per entry). The
entries are kept for `CATALOGUE_CACHE_SECONDS` in the execution environment. A key that does
not read as an entry is skipped and logged, never a failure of the catalogue.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from pair_api.errors import InvalidRequest
from pair_api.store import PairStore

CATALOGUE_CACHE_SECONDS = 30.0
_ENTRY = re.compile(
    r"(?P<id>[a-z0-9][a-z0-9_-]{0,63})\.(?P<width>[1-9][0-9]{0,4})x(?P<height>[1-9][0-9]{0,4})"
    r"\.(?P<ext>[a-z]{3,4})"
)
logger = Logger(service="portrait-fusion-pair-api", child=True)


@dataclass(frozen=True)
class CatalogueEntry:
    """One template of the catalogue."""

    template_id: str
    key: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        """The file's extension (the format it was stored in)."""
        return self.key.rsplit(".", 1)[-1]


def entry_key(prefix: str, template_id: str, width: int, height: int, extension: str) -> str:
    """The key an entry is stored under."""
    return f"{prefix}{template_id}.{width}x{height}.{extension}"


def read_entry(prefix: str, key: str) -> CatalogueEntry | None:
    """The entry `key` names, or None when it names none."""
    match = _ENTRY.fullmatch(key.removeprefix(prefix)) if key.startswith(prefix) else None
    if match is None:
        return None
    return CatalogueEntry(match["id"], key, width=int(match["width"]), height=int(match["height"]))


class Catalogue:
    """The catalogue prefix of the input bucket, listed at most once per cache period."""

    def __init__(
        self,
        store: PairStore,
        bucket: str,
        prefix: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._bucket = bucket
        self._prefix = prefix
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, list[CatalogueEntry]] | None = None

    def entries(self) -> list[CatalogueEntry]:
        """Every template, sorted by id."""
        with self._lock:
            now = self._clock()
            if self._cached is None or now - self._cached[0] >= CATALOGUE_CACHE_SECONDS:
                self._cached = (now, self._listed())
            return list(self._cached[1])

    def find(self, template_id: str) -> CatalogueEntry:
        """The entry named `template_id`; a 400 naming `template_id` if there is none."""
        for entry in self.entries():
            if entry.template_id == template_id:
                return entry
        raise InvalidRequest(
            f"template_id {template_id!r} is not in the catalogue", field="template_id"
        )

    def _listed(self) -> list[CatalogueEntry]:
        found: dict[str, CatalogueEntry] = {}
        for key in self._store.list_keys(self._bucket, self._prefix):
            entry = read_entry(self._prefix, key)
            if entry is None:
                logger.warning(
                    "catalogue object skipped: its name is not <id>.<width>x<height>.<ext>",
                    extra={"key": key},
                )
            elif entry.template_id not in found:
                found[entry.template_id] = entry
        return sorted(found.values(), key=lambda entry: entry.template_id)
