"""Writing a pair's outputs: the result image, its `result.json`, and its completion event.

One retry layer: botocore's own (standard mode, configured in `bootstrap`). Output writes
are not retried again here, so a write never sleeps past the time left.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Executor
from typing import Any

from portrait_fusion.api.fusion_api import FusionResult
from portrait_fusion.aws.storage import ObjectRef
from portrait_fusion.core.errors import ConfigurationError, FusionError, PairingError
from portrait_fusion.core.observability import count, count_failure, logger
from portrait_fusion.core.settings import Settings
from portrait_fusion.guards.reuse import EarlierResult
from portrait_fusion.pairs.pairing import PairNaming
from portrait_fusion.pipeline.outcome import Outcome
from portrait_fusion.pipeline.ports import Storage
from portrait_fusion.results.completion_events import EventPublisher, completion_event
from portrait_fusion.results.result_document import PairRecord, encode
from portrait_fusion.results.result_guard import keeps_stored_success, parse_document

_DOCUMENT_MAX_BYTES = 1 << 20


class OutputWriter:
    """Writes a pair's outputs to the output bucket, never where they would re-trigger it."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        naming: PairNaming,
        events: EventPublisher,
        sender: Executor | None = None,
    ) -> None:
        self._settings = settings
        self._storage = storage
        self._naming = naming
        self._events = events
        self._sender = sender  # sends a success's event beside the idempotency record's write

    def output_key(self, record: PairRecord, name: str) -> str:
        """The key of the pair's output `name`; refuses one an upload event would match."""
        key = f"{self._settings.output_prefix}{record.pair_id}/{name}"
        bucket = self._settings.output_bucket
        input_bucket = self._settings.input_bucket or record.target.bucket
        # Never write where an upload would trigger the function again.
        if bucket == input_bucket and (
            key.startswith(self._settings.input_prefix) or self._naming.parse(key) is not None
        ):
            raise ConfigurationError(
                f"refusing to write s3://{bucket}/{key}: it would trigger the function again"
            )
        return key

    def succeeded(self, record: PairRecord, result: FusionResult) -> dict[str, Any]:
        """Write the API's result and its document; announce it; return the document."""
        fmt = result.info.format
        stored = self._put(f"result.{fmt.extension}", record, result.image, fmt.content_type)
        record.result = {
            **_result_pointer(stored),
            "content_type": fmt.content_type,
            "size": len(result.image),
            "width": result.info.width,
            "height": result.info.height,
            "sha256": hashlib.sha256(result.image).hexdigest(),
        }
        return self._publish(record, record.to_document(), in_background=True)

    def copied(self, record: PairRecord, earlier: EarlierResult) -> dict[str, Any]:
        """Write an earlier pair's result for the same request as this pair's; announce it."""
        name = earlier.entry["key"].rsplit("/", 1)[-1]
        stored = self._put(name, record, earlier.image, earlier.entry["content_type"])
        record.result = {**earlier.entry, **_result_pointer(stored)}
        record.reused_from = earlier.pair_id
        return self._publish(record, record.to_document(), in_background=True)

    def failed(self, record: PairRecord, error: FusionError) -> Outcome:
        """Record a permanent failure, unless it would replace a success from these inputs."""
        document = record.to_document(error)
        count_failure("PairsFailed", error.code)
        if error.stage.value == "preflight":
            count("PreflightRejects")
        logger.warning("pair failed", extra={"error": document["error"]})
        if keeps_stored_success(self.stored_document(record), record):
            count("FailuresNotStored")
            logger.warning("failure not stored: the pair succeeded from these inputs already")
            return Outcome.of(document)
        self._publish(record, document)
        return Outcome.of(document)

    def _publish(
        self, record: PairRecord, document: dict[str, Any], *, in_background: bool = False
    ) -> dict[str, Any]:
        """Write `document`, then announce it (a replay never gets here). `in_background`:
        the event goes out on the sender while the caller goes on (the run waits for
        `record.sending` before it returns)."""
        stored = self._put("result.json", record, encode(document), "application/json")
        event = completion_event(document, stored)
        if in_background and self._sender is not None:
            record.sending.append(self._sender.submit(self._events.publish, event))
        else:
            self._events.publish(event)
        return document

    def stored_document(self, record: PairRecord) -> dict[str, Any] | None:
        """The pair's current `result.json`, None when there is none (or it is no document)."""
        ref = ObjectRef(self._settings.output_bucket, self.output_key(record, "result.json"))
        if not self._storage.exists(ref):
            return None
        try:
            return parse_document(self._storage.fetch(ref, _DOCUMENT_MAX_BYTES).data)
        except PairingError:
            return None  # deleted in between

    def _put(self, name: str, record: PairRecord, body: bytes, content_type: str) -> ObjectRef:
        key = self.output_key(record, name)
        return self._storage.write(self._settings.output_bucket, key, body, content_type)


def _result_pointer(stored: ObjectRef) -> dict[str, Any]:
    """Where a document's result is: the key, and the version that holds these bytes. A later
    merge of the pair writes the key again; the version stays, so the document stays true."""
    return {"bucket": stored.bucket, "key": stored.key, "version_id": stored.version_id}
