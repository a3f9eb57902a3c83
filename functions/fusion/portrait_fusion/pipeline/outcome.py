"""What the pipeline is asked (a pair request) and what it answers (an outcome)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from portrait_fusion.aws.pair_records import ApiPair
from portrait_fusion.aws.storage import ObjectRef


class Status(StrEnum):
    """How one event ended for the pipeline."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    WAITING = "waiting"  # a lone half: its partner has not arrived yet
    SKIPPED = "skipped"  # a key outside the naming convention


@dataclass(frozen=True)
class Outcome:
    """The end of one event: for a pair, its result document."""

    status: Status
    pair_id: str | None = None
    document: dict[str, Any] | None = None
    detail: str = ""

    @classmethod
    def of(cls, document: dict[str, Any]) -> Outcome:
        """The outcome a result document records."""
        return cls(Status(document["status"]), document["pair_id"], document)


@dataclass(frozen=True)
class PairRequest:
    """Two inputs to merge, the similarity the request asked for (if any), and the Pair
    API's record of the pair when the API created it."""

    pair_id: str
    target: ObjectRef
    template: ObjectRef
    similarity: object | None = None
    api_pair: ApiPair | None = None

    @property
    def run_key(self) -> tuple[str, ...]:
        """What makes two requests one run within an invocation: both objects at the versions
        asked for (none: the current ones) and the similarity asked for. Both halves of a pair
        in one batch are one run; a Batch Operations task for an older version is not."""
        return (
            self.target.bucket,
            self.target.key,
            self.target.version_id or "",
            self.template.bucket,
            self.template.key,
            self.template.version_id or "",
            repr(self.similarity),
        )
