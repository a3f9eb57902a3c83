"""The pipeline's collaborators, as the little it needs of each.

The adapters (S3, the face-fusion API, DynamoDB, EventBridge) satisfy these structurally;
the fast unit tier satisfies them with in-memory fakes. The guard, the publisher, the re-use
store, the call budget and the paid-call marks have their protocols next to their adapters
(`IdempotencyGuard`, `EventPublisher`, `ResultReuse`, `CallAllowance`, `PaidCallMarks`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from portrait_fusion.api.call_ahead import CallAhead
    from portrait_fusion.api.fusion_api import FusionResult, MergeRequest
    from portrait_fusion.aws.storage import ObjectRef, StoredObject
    from portrait_fusion.pairs.pairing import Half
    from portrait_fusion.pairs.payer import Payer


class Storage(Protocol):
    """Where inputs are read and outputs written (S3)."""

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        """Every key in `bucket` that starts with `prefix`."""

    def exists(self, ref: ObjectRef) -> bool:
        """Whether the object is in its bucket."""

    def fetch(self, ref: ObjectRef, max_bytes: int) -> StoredObject:
        """The object's head and (within `max_bytes`) its bytes."""

    def write(self, bucket: str, key: str, body: bytes, content_type: str) -> ObjectRef:
        """Store one object; where it went, with the version the bucket gave it."""


class FusionApi(Protocol):
    """The face-fusion API: one merge, retried within the time left."""

    def merge(self, request: MergeRequest, *, seconds_left: Callable[[], float]) -> FusionResult:
        """The merged image, or a `FusionError` saying what to do about the failure."""

    def read_ahead(self, pair_key: str, payer: Payer) -> CallAhead:
        """Start what a merge for `pair_key` needs first (it may start nothing); the caller
        closes what it returns once the merge is over or will not happen."""


class PartnerRegister(Protocol):
    """Remembers a lone half, so a partner that never comes is reported."""

    def record(self, half: Half, ref: ObjectRef) -> None:
        """Note that `half` arrived without its partner."""
