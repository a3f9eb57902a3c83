"""What happens to a pair: find it (`pair_resolution`), run it once (`pair_run`), write its
outputs (`outputs`). This module wires the three for the entry points.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from portrait_fusion.aws.storage import ObjectRef
from portrait_fusion.core.settings import Settings
from portrait_fusion.guards.api_pairs import ApiPairRegister
from portrait_fusion.guards.idempotency import IdempotencyGuard
from portrait_fusion.guards.reuse import ResultReuse
from portrait_fusion.pairs.pairing import PairNaming
from portrait_fusion.pipeline.admission import Admission
from portrait_fusion.pipeline.invocation import Invocation
from portrait_fusion.pipeline.key_resolution import FoundObject
from portrait_fusion.pipeline.outcome import Outcome, PairRequest, Status
from portrait_fusion.pipeline.outputs import OutputWriter
from portrait_fusion.pipeline.pair_resolution import PairResolver
from portrait_fusion.pipeline.pair_run import OUTPUT_RESERVE_SECONDS, PairRun
from portrait_fusion.pipeline.ports import FusionApi, PartnerRegister, Storage
from portrait_fusion.results.completion_events import EventPublisher, NoEvents

__all__ = [
    "OUTPUT_RESERVE_SECONDS",
    "Invocation",
    "Outcome",
    "PairRequest",
    "Pipeline",
    "Status",
]

_NO_EVENTS = NoEvents()


class Pipeline:
    """Turns object events and pair requests into outcomes."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        api: FusionApi,
        guard: IdempotencyGuard,
        executor: ThreadPoolExecutor,
        *,
        events: EventPublisher = _NO_EVENTS,
        pending: PartnerRegister | None = None,
        reuse: ResultReuse | None = None,
        api_pairs: ApiPairRegister | None = None,
    ) -> None:
        self.naming = PairNaming(settings.pair_pattern)
        outputs = OutputWriter(settings, storage, self.naming, events, executor)
        self._admission = Admission(settings.input_prefix, api_pairs)
        self._resolver = PairResolver(self.naming, storage, outputs, pending)
        self._run = PairRun(settings, storage, api, guard, executor, outputs, reuse, api_pairs)

    def on_object(
        self, created: ObjectRef | FoundObject, invocation: Invocation, similarity: object = None
    ) -> Outcome:
        """Handle one created object (as resolving its event found it, with its pair's
        folder listed, or just its ref): run its pair if both halves are there."""
        if isinstance(created, ObjectRef):
            created = FoundObject(created)
        api_pair = self._admission.admit(created.ref)
        if isinstance(api_pair, Outcome):
            return api_pair
        found = self._resolver.from_object(created, invocation, similarity)
        if isinstance(found, Outcome):
            return found
        if api_pair is not None:
            found = replace(found, api_pair=api_pair)
        # Both halves of a pair in one batch share one run (and one outcome).
        return invocation.shared_run(found.run_key, lambda: self._run.run(found, invocation))

    def on_prefix(
        self, bucket: str, prefix: str, invocation: Invocation, similarity: object | None = None
    ) -> Outcome:
        """Handle an ad-hoc request naming a pair by its folder (`s3://b/incoming/abc/`)."""
        ref = self._resolver.one_in_folder(bucket, prefix)
        return self.on_object(ref, invocation, similarity)

    def run_pair(self, request: PairRequest, invocation: Invocation) -> Outcome:
        """Process a complete pair once; return its document, raise what should be retried."""
        return self._run.run(request, invocation)
