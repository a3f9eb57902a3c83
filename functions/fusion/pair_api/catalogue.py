"""The template catalogue: scenes stored once under a prefix outside the trigger prefix.

Each entry is `<CATALOGUE_PREFIX><template_id>.<ext>` with user metadata `width` and `height`,
written by `python -m ops.catalogue add` after the API's template rules passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from pair_api.errors import InvalidRequest
from pair_api.store import PairStore, StoredFile


@dataclass(frozen=True)
class CatalogueEntry:
    """One template of the catalogue."""

    template_id: str
    key: str
    width: int
    height: int


class Catalogue:
    """Read the catalogue prefix of the input bucket."""

    def __init__(self, store: PairStore, bucket: str, prefix: str) -> None:
        self._store = store
        self._bucket = bucket
        self._prefix = prefix

    def entries(self) -> list[CatalogueEntry]:
        """Every template, sorted by id."""
        found = []
        for key in self._store.list_keys(self._bucket, self._prefix):
            stored = self._store.describe(self._bucket, key)
            if stored is not None:
                found.append(_entry(self._prefix, stored))
        return sorted(found, key=lambda entry: entry.template_id)

    def find(self, template_id: str) -> CatalogueEntry:
        """The entry named `template_id`; a 400 naming `template_id` if there is none."""
        for entry in self.entries():
            if entry.template_id == template_id:
                return entry
        raise InvalidRequest(
            f"template_id {template_id!r} is not in the catalogue", field="template_id"
        )


def _entry(prefix: str, stored: StoredFile) -> CatalogueEntry:
    name = PurePosixPath(stored.key.removeprefix(prefix))
    return CatalogueEntry(
        template_id=name.stem,
        key=stored.key,
        width=int(stored.metadata.get("width", 0)),
        height=int(stored.metadata.get("height", 0)),
    )
