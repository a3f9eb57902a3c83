"""What each route does, over a `PairStore`: create a pair, describe it, list the catalogue."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from pair_api.catalogue import Catalogue
from pair_api.errors import InvalidRequest, UnknownPair
from pair_api.pair_request import NewPair
from pair_api.pair_status import PairFacts, PairStatus, pair_status
from pair_api.settings import TARGET_NAME, TEMPLATE_NAME, PairApiSettings
from pair_api.store import PairStore
from pair_api.upload_policy import pair_metadata, upload_policy
from portrait_fusion.aws.erasure import ErasureReport

PAIR_ID = re.compile(r"^[0-9a-f]{32}$")
REQUEST_RECORD = "request.json"
Eraser = Callable[[str], ErasureReport]
"""Erases one pair by id (`portrait_fusion.aws.erasure.erase_pair` with the stack's locations)."""


def _check_pair_id(pair_id: str) -> None:
    if not PAIR_ID.match(pair_id):
        raise InvalidRequest(
            "pair_id must be the 32 hexadecimal digits POST /pairs returned", field="pair_id"
        )


class PairService:
    """The Pair API's logic; the routes only parse and serialise."""

    def __init__(
        self,
        settings: PairApiSettings,
        store: PairStore,
        eraser: Eraser,
        new_pair_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._settings = settings
        self._store = store
        self._eraser = eraser
        self._new_pair_id = new_pair_id
        self._catalogue = Catalogue(store, settings.input_bucket, settings.catalogue_prefix)

    def create_pair(self, request: NewPair) -> dict[str, Any]:
        """Record a new pair and presign its uploads; copy a catalogue template into it."""
        s = self._settings
        template = (
            None if request.template_id is None else self._catalogue.find(request.template_id)
        )
        pair_id = self._new_pair_id()
        folder = f"{s.input_prefix}{pair_id}/"
        # The record comes first: from now on the pair exists for GET, whatever is uploaded.
        self._store.write_json(
            s.output_bucket,
            self._record_key(pair_id),
            {
                "pair_id": pair_id,
                "source_similarity": request.source_similarity,
                "correlation_id": request.correlation_id,
                "template_id": request.template_id,
            },
        )
        uploads = {"target": self._presign(f"{folder}{TARGET_NAME}", request)}
        if template is None:
            uploads["template"] = self._presign(f"{folder}{TEMPLATE_NAME}", request)
        else:
            suffix = PurePosixPath(template.key).suffix
            self._store.copy(
                s.input_bucket, template.key, f"{folder}template{suffix}", pair_metadata(request)
            )
        return {"pair_id": pair_id, "uploads": uploads}

    def describe_pair(self, pair_id: str) -> dict[str, Any]:
        """`{"pair_id", "status", "document", "result_url"}`; 404 for a pair never created."""
        _check_pair_id(pair_id)
        s = self._settings
        document = self._store.read_json(s.output_bucket, f"{s.output_prefix}{pair_id}/result.json")
        names = {
            PurePosixPath(key).stem.lower()
            for key in self._store.list_keys(s.input_bucket, f"{s.input_prefix}{pair_id}/")
        }
        created = document is not None or (
            self._store.read_json(s.output_bucket, self._record_key(pair_id)) is not None
        )
        status = pair_status(
            PairFacts(
                created=created,
                has_target="target" in names,
                has_template="template" in names,
                document=document,
            )
        )
        if status is None:
            raise UnknownPair(f"no pair {pair_id}")
        result_url = None
        if status is PairStatus.SUCCEEDED and document is not None:
            result = document["result"]
            # Pinned to the document's version: a later merge of the pair cannot change
            # what this URL downloads.
            result_url = self._store.presign_get(
                result["bucket"],
                result["key"],
                s.result_url_expires_seconds,
                version_id=result.get("version_id"),
            )
        return {
            "pair_id": pair_id,
            "status": status.value,
            "document": document,
            "result_url": result_url,
        }

    def erase_pair(self, pair_id: str) -> dict[str, Any]:
        """Remove every version of the pair's inputs and outputs and its records; 404 when
        nothing of it is left (so a repeated erasure says the pair is gone)."""
        _check_pair_id(pair_id)
        report = self._eraser(pair_id)
        if not report.removed_anything:
            raise UnknownPair(f"no pair {pair_id}")
        return {
            "pair_id": pair_id,
            "erased": {"objects": len(report.objects), "records": len(report.records)},
        }

    def list_templates(self) -> list[dict[str, Any]]:
        """The catalogue, each entry with a short-lived preview URL."""
        s = self._settings
        return [
            {
                "template_id": entry.template_id,
                "width": entry.width,
                "height": entry.height,
                "preview_url": self._store.presign_get(
                    s.input_bucket, entry.key, s.result_url_expires_seconds
                ),
            }
            for entry in self._catalogue.entries()
        ]

    def _presign(self, key: str, request: NewPair) -> dict[str, Any]:
        policy = upload_policy(key, request, max_bytes=self._settings.max_upload_bytes)
        return self._store.presign_post(
            self._settings.input_bucket, policy, self._settings.upload_expires_seconds
        )

    def _record_key(self, pair_id: str) -> str:
        return f"{self._settings.output_prefix}{pair_id}/{REQUEST_RECORD}"
