"""In-memory stand-ins for the pipeline's collaborators (the `ports` protocols and the
guard, publisher and re-use store): a pair runs through the real pipeline in milliseconds."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from portrait_fusion.api.call_ahead import CallAhead
from portrait_fusion.api.call_slot import CallSlot
from portrait_fusion.api.fusion_api import FusionResult, MergeRequest
from portrait_fusion.aws.pair_records import ApiPair, Claim, MergedVersion
from portrait_fusion.aws.storage import ObjectHead, ObjectRef, StoredObject
from portrait_fusion.core.errors import FusionError, PairingError, StorageError
from portrait_fusion.guards.idempotency import GuardedRun
from portrait_fusion.guards.reuse import EarlierResult
from portrait_fusion.images.preflight import read_header
from portrait_fusion.pairs.pairing import Half
from portrait_fusion.pairs.payer import Payer
from portrait_fusion.pipeline.invocation import Invocation
from portrait_fusion.results.completion_events import CompletionEvent
from portrait_fusion.results.result_document import FunctionInfo
from tests.images import as_jpeg


@dataclass
class MemoryStorage:
    """Buckets as dicts, versioned as the stack's are: every put and write makes a version of
    its own (kept in `versions`; `objects` holds the current ones). Every write is kept in
    `writes`, and `fail_writes` makes them fail."""

    objects: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    versions: dict[ObjectRef, bytes] = field(default_factory=dict)
    current: dict[tuple[str, str], str] = field(default_factory=dict)  # current version ids
    writes: list[tuple[str, str]] = field(default_factory=list)
    listed: list[tuple[str, str]] = field(default_factory=list)
    fail_writes: bool = False

    def put(self, bucket: str, key: str, body: bytes) -> str:
        """Upload an input; its version id."""
        return self._store(bucket, key, body, "application/octet-stream").version_id or ""

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        self.listed.append((bucket, prefix))
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))

    def exists(self, ref: ObjectRef) -> bool:
        if ref.version_id is not None:
            return ref in self.versions
        return (ref.bucket, ref.key) in self.objects

    def fetch(self, ref: ObjectRef, max_bytes: int) -> StoredObject:
        if not self.exists(ref):
            raise PairingError(f"{ref.uri} is not in the bucket", code="INPUT_NOT_FOUND")
        version = ref.version_id or self.current[ref.bucket, ref.key]
        body = self.versions[ObjectRef(ref.bucket, ref.key, version)]
        etag = str(abs(hash(body)))
        head = ObjectHead(ObjectRef(ref.bucket, ref.key), etag, len(body), version)
        return StoredObject(head, body if len(body) <= max_bytes else None)

    def write(self, bucket: str, key: str, body: bytes, content_type: str) -> ObjectRef:
        self.writes.append((bucket, key))
        if self.fail_writes:
            raise StorageError(f"cannot write s3://{bucket}/{key}: SlowDown", code="STORAGE_ERROR")
        return self._store(bucket, key, body, content_type)

    def _store(self, bucket: str, key: str, body: bytes, content_type: str) -> ObjectRef:
        self.objects[(bucket, key)] = (body, content_type)
        stored = ObjectRef(bucket, key, f"v{len(self.versions) + 1}")
        self.versions[stored] = body
        self.current[bucket, key] = stored.version_id or ""
        return stored

    def document(self, bucket: str, key: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.objects[(bucket, key)][0])
        return loaded


@dataclass
class FakeApi:
    """Answers every merge with `result` (or raises `error`); records what it was asked.
    With a `slot`, each merge holds it (one call in flight) and runs `during_call` inside."""

    error: FusionError | None = None
    calls: list[MergeRequest] = field(default_factory=list)
    read_aheads: list[str] = field(default_factory=list)
    seconds_left_seen: list[float] = field(default_factory=list)
    slot: CallSlot | None = None
    during_call: Callable[[], None] = lambda: None

    def read_ahead(self, pair_key: str, payer: Payer) -> CallAhead:
        del payer
        self.read_aheads.append(pair_key)
        return CallAhead()

    def merge(self, request: MergeRequest, *, seconds_left: Callable[[], float]) -> FusionResult:
        if self.slot is None:
            return self._merge(request, seconds_left)
        with self.slot.held():
            self.during_call()
            return self._merge(request, seconds_left)

    def _merge(self, request: MergeRequest, seconds_left: Callable[[], float]) -> FusionResult:
        self.calls.append(request)
        self.seconds_left_seen.append(seconds_left())
        if self.error is not None:
            raise self.error
        # Another similarity, another image: as the API's answers differ.
        similarity = 0.5 if request.similarity is None else request.similarity
        image = as_jpeg(size=(256, 256), quality=50 + round(similarity * 40))
        info = read_header(image)
        assert info is not None
        return FusionResult(image, info, f"req-{len(self.calls)}", "log", 1, 42)


@dataclass
class MemoryGuard:
    """The idempotency guard as a dict: a completed key returns its stored document."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    in_progress: bool = False

    def register_context(self, context: object) -> None:
        del context

    def run(self, key: dict[str, Any], work: Callable[[], dict[str, Any]]) -> GuardedRun:
        from portrait_fusion.core.errors import PairInProgressError

        if self.in_progress:
            raise PairInProgressError("another invocation is processing this pair")
        hashed = json.dumps(key, sort_keys=True)
        if hashed in self.documents:
            return GuardedRun(self.documents[hashed], replayed=True)
        document = work()  # an error stores nothing, as Powertools deletes the record
        self.documents[hashed] = document
        return GuardedRun(document, replayed=False)


@dataclass
class EventLog:
    """An event publisher that keeps what it was given."""

    events: list[CompletionEvent] = field(default_factory=list)

    def publish(self, event: CompletionEvent) -> bool:
        self.events.append(event)
        return True


@dataclass
class MemoryReuse:
    """A re-use store that remembers fingerprints and reads results back from storage, at
    the version each names."""

    storage: MemoryStorage
    entries: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def find(self, key: str) -> EarlierResult | None:
        if key not in self.entries:
            return None
        pair_id, entry = self.entries[key]
        image = self.storage.versions[ObjectRef(entry["bucket"], entry["key"], entry["version_id"])]
        return EarlierResult(pair_id, image, entry)

    def remember(self, key: str, pair_id: str, entry: dict[str, Any]) -> None:
        self.entries[key] = (pair_id, entry)


@dataclass
class PartnerLog:
    """A partner register that keeps the lone halves it was told about."""

    halves: list[Half] = field(default_factory=list)

    def record(self, half: Half, ref: ObjectRef) -> None:
        del ref
        self.halves.append(half)


@dataclass
class MemoryApiPairs:
    """Pair records by id, claimed as the table's conditional update would."""

    storage: MemoryStorage
    pairs: dict[str, ApiPair] = field(default_factory=dict)
    discarded: list[str] = field(default_factory=list)

    def get(self, pair_id: str) -> ApiPair | None:
        return self.pairs.get(pair_id)

    def claim(self, pair_id: str, version: MergedVersion) -> Claim:
        pair = self.pairs.get(pair_id)
        if pair is None or pair.erased:
            return Claim(False, None)
        if pair.merged is not None and pair.merged.key != version.key:
            return Claim(False, pair.merged)
        self.pairs[pair_id] = replace(pair, merged=version)
        return Claim(True, version)

    def discard_uploads(self, pair_id: str, bucket: str) -> int:
        gone = [k for b, k in self.storage.objects if b == bucket and f"/{pair_id}/" in k]
        for key in gone:
            del self.storage.objects[bucket, key]
        self.discarded.append(pair_id)
        return len(gone)


def invocation(seconds_left: float = 300.0) -> Invocation:
    """An invocation with a fixed amount of time left."""
    return Invocation(FunctionInfo("fn", "$LATEST", "request-1"), seconds_left=lambda: seconds_left)


@dataclass
class World:
    """A pipeline on fakes, with the fakes at hand for the assertions."""

    pipeline: Any
    storage: MemoryStorage
    api: FakeApi
    guard: MemoryGuard
    events: EventLog
    partners: PartnerLog
    api_pairs: MemoryApiPairs
    reuse: MemoryReuse | None


def world(*, reuse: bool = False, **env: str) -> World:
    """A pipeline over fakes; `env` overrides the function's environment variables."""
    from concurrent.futures import ThreadPoolExecutor

    from portrait_fusion.core.settings import Settings
    from portrait_fusion.pipeline.pipeline import Pipeline

    settings = Settings.from_env(
        {"OUTPUT_BUCKET": "out", "API_KEY_SECRET_ID": "s", "IDEMPOTENCY_TABLE": "t", **env}
    )
    storage, api, guard = MemoryStorage(), FakeApi(), MemoryGuard()
    events, partners = EventLog(), PartnerLog()
    api_pairs = MemoryApiPairs(storage)
    reuse_store = MemoryReuse(storage) if reuse else None
    pipeline = Pipeline(
        settings,
        storage,
        api,
        guard,
        ThreadPoolExecutor(max_workers=2),
        events=events,
        pending=partners,
        reuse=reuse_store,
        api_pairs=api_pairs,
    )
    return World(pipeline, storage, api, guard, events, partners, api_pairs, reuse_store)
