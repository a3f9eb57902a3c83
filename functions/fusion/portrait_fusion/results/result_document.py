"""The result document (`result.json`): built from plain data, published as a JSON Schema."""

from __future__ import annotations

import json
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from portrait_fusion.aws.storage import ObjectHead, ObjectRef
from portrait_fusion.core.errors import ApiError, FusionError
from portrait_fusion.images.preflight import ImageInfo

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class FunctionInfo:
    """Which function invocation produced a document."""

    name: str
    version: str
    aws_request_id: str


@dataclass
class PairRecord:
    """Everything learned about one pair while processing it; rendered by `to_document`."""

    pair_id: str
    target: ObjectRef
    template: ObjectRef
    function: FunctionInfo
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    heads: dict[str, ObjectHead] = field(default_factory=dict)
    images: dict[str, ImageInfo] = field(default_factory=dict)
    adjustments: dict[str, dict[str, Any]] = field(default_factory=dict)
    source_similarity: float | None = None
    timings_ms: dict[str, int] = field(default_factory=dict)
    api: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    correlation_id: str | None = None
    reused_from: str | None = None  # the pair whose result was copied (no API call)
    # Outputs still on their way (the completion event): waited for before the run returns.
    sending: list[Future[object]] = field(default_factory=list)

    def input_entry(self, role: str) -> dict[str, Any]:
        """The document's `inputs.<role>` entry: what was read, and what was sent."""
        ref = self.target if role == "target" else self.template
        head = self.heads.get(role)
        info = self.images.get(role)
        return {
            "bucket": ref.bucket,
            "key": ref.key,
            "etag": head.etag if head else None,
            "version_id": head.version_id if head else ref.version_id,
            "size": head.size if head else None,
            "format": info.format.name if info else None,
            "width": info.width if info else None,
            "height": info.height if info else None,
            "adjusted": self.adjustments.get(role),
        }

    def to_document(self, error: FusionError | None = None) -> dict[str, Any]:
        """Render the result document: `succeeded` without `error`, else `failed`."""
        finished = datetime.now(UTC)
        timings = dict(self.timings_ms)
        timings["total"] = round((finished - self.started_at).total_seconds() * 1000)
        api = self.api
        if isinstance(error, ApiError):
            api = {
                "request_id": error.request_id,
                "log_id": error.log_id,
                "attempts": error.attempts,
                "latency_ms": None,
                "unusable_request_ids": list(error.unusable_request_ids),
            }
        document = {
            "schema_version": SCHEMA_VERSION,
            "status": "failed" if error else "succeeded",
            "pair_id": self.pair_id,
            "inputs": {
                "target": self.input_entry("target"),
                "template": self.input_entry("template"),
            },
            "source_similarity": self.source_similarity,
            "correlation_id": self.correlation_id,
            "result": None if error else self.result,
            "error": _error_entry(error) if error else None,
            "api": api,
            "timings_ms": timings,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(finished),
            "function": {
                "name": self.function.name,
                "version": self.function.version,
                "aws_request_id": self.function.aws_request_id,
            },
        }
        if self.reused_from is not None and error is None:
            document["reused_from"] = self.reused_from
        return document


def _error_entry(error: FusionError) -> dict[str, Any]:
    return {
        "stage": error.stage.value,
        "code": error.code,
        "message": error.message,
        "http_status": error.http_status,
        "retryable": error.retryable,
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(document: dict[str, Any]) -> bytes:
    """The document as stored: UTF-8 JSON, stable key order, readable."""
    return json.dumps(document, indent=2, ensure_ascii=False).encode()
