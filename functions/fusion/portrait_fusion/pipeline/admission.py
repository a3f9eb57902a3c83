"""Which uploads may start a run: a Pair API pair only while its record allows it.

An upload whose key is one the Pair API hands out is looked up in the pair records. A pair
the API did not create is an ordinary pair of the naming convention. An erased pair's upload
(a form re-posted after `DELETE`) is removed and goes no further: no run, no lone-half
marker, no document.
"""

from __future__ import annotations

from dataclasses import dataclass

from portrait_fusion.aws.pair_records import ApiPair
from portrait_fusion.aws.storage import ObjectRef
from portrait_fusion.core.observability import count, logger
from portrait_fusion.guards.api_pairs import ApiPairRegister
from portrait_fusion.pairs.api_pair_keys import api_pair_of
from portrait_fusion.pipeline.outcome import Outcome, Status


@dataclass(frozen=True)
class Admission:
    """Looks up the Pair API's record of an upload's pair."""

    input_prefix: str
    register: ApiPairRegister | None

    def admit(self, ref: ObjectRef) -> ApiPair | Outcome | None:
        """The pair's record when the API created it; an `Outcome` when the upload goes no
        further; None for an upload of any other pair."""
        pair_id = api_pair_of(ref.key, self.input_prefix)
        if pair_id is None or self.register is None:
            return None
        pair = self.register.get(pair_id)
        if pair is None or not pair.erased:
            return pair
        removed = self.register.discard_uploads(pair_id, ref.bucket)
        count("UploadsToErasedPairs")
        logger.warning(
            "upload to an erased pair: removed, nothing run",
            extra={"pair_id": pair_id, "key": ref.key, "versions_removed": removed},
        )
        return Outcome(Status.SKIPPED, pair_id, detail="the pair was erased; its upload removed")
