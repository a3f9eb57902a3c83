"""A pair's two inputs as read, what the API is sent for them, and what identifies them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from portrait_fusion.api.fusion_api import Upload
from portrait_fusion.aws.storage import StoredObject
from portrait_fusion.core.settings import Settings
from portrait_fusion.images import preflight
from portrait_fusion.pairs.pairing import Role
from portrait_fusion.results.result_document import PairRecord


@dataclass(frozen=True)
class Inputs:
    """Both inputs of a pair, as one GET each returned them."""

    target: StoredObject
    template: StoredObject

    def by_role(self) -> dict[Role, StoredObject]:
        """Each input under its role."""
        return {Role.TARGET: self.target, Role.TEMPLATE: self.template}


@dataclass(frozen=True)
class Uploads:
    """What the API is sent for a pair: both inputs after preflight (and auto-fit)."""

    target: Upload
    template: Upload


def prepare_uploads(record: PairRecord, inputs: Inputs, settings: Settings) -> Uploads:
    """Preflight both inputs (raising the first rejection); note what is sent in `record`."""
    stored = inputs.by_role()
    for role, obj in stored.items():
        preflight.check_size(role, obj.head.size, auto_fit=settings.auto_fit)
    with timed(record, "preflight"):
        prepared = {
            # check_size refused every input too large to have been downloaded
            role: preflight.prepare(role, obj.data or b"", auto_fit=settings.auto_fit)
            for role, obj in stored.items()
        }
    uploads = {}
    for role, image in prepared.items():
        record.images[role.value] = image.info
        if image.adjustment:
            record.adjustments[role.value] = image.adjustment
        fmt = image.info.format
        uploads[role] = Upload(f"{role.value}.{fmt.extension}", image.data, fmt.content_type)
    return Uploads(uploads[Role.TARGET], uploads[Role.TEMPLATE])


def idempotency_key(record: PairRecord) -> dict[str, Any]:
    """What makes a pair version: its id, both inputs' ETag and version, the similarity."""

    def identity(role: str) -> dict[str, Any]:
        head = record.heads[role]
        return {
            "bucket": head.ref.bucket,
            "key": head.ref.key,
            "etag": head.etag,
            "version_id": head.version_id,
        }

    return {
        "pair_id": record.pair_id,
        "target": identity("target"),
        "template": identity("template"),
        "source_similarity": record.source_similarity,
    }


class timed:
    """Adds a stage's wall time (ms) to the record's `timings_ms`."""

    def __init__(self, record: PairRecord, stage: str) -> None:
        self._record, self._stage = record, stage

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = round((time.perf_counter() - self._start) * 1000)
        self._record.timings_ms[self._stage] = self._record.timings_ms.get(self._stage, 0) + elapsed
