"""What each route does, for one owner: create a pair, describe it, erase it, list the catalogue.

A pair is its owner's alone. Its record (`portrait_fusion.aws.pair_records`) names the owner,
and a pair the caller does not own answers exactly like a pair that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from pair_api.catalogue import Catalogue, CatalogueEntry
from pair_api.errors import BudgetSpent, InvalidRequest, UnknownPair
from pair_api.pair_request import NewPair
from pair_api.pair_status import PairFacts, PairStatus, pair_status
from pair_api.public_view import public_view
from pair_api.settings import PairApiSettings
from pair_api.store import PairStore
from pair_api.upload_policy import pair_metadata, upload_policy
from portrait_fusion.aws.erasure import ErasureReport
from portrait_fusion.aws.pair_records import ApiPair
from portrait_fusion.pairs.api_pair_keys import TARGET_NAME, TEMPLATE_NAME, is_api_pair_id

Eraser = Callable[[str], ErasureReport]
"""Erases one pair by id (`portrait_fusion.aws.erasure.erase_pair` with the stack's locations)."""
SpentToday = Callable[[str], int]
"""Paid calls an owner has spent today (the fusion function's per-owner counter)."""


class PairRecordStore(Protocol):
    """The pair records the API keeps (`PairRecords` on the table)."""

    def create(self, pair: ApiPair) -> None:
        """Write a new pair's record."""

    def get(self, pair_id: str) -> ApiPair | None:
        """The pair's record (or tombstone), None when there is neither."""

    def remove(self, pair_id: str) -> None:
        """Delete a pair's record."""


def _check_pair_id(pair_id: str) -> None:
    if not is_api_pair_id(pair_id):
        raise InvalidRequest(
            "pair_id must be the 32 hexadecimal digits POST /pairs returned", field="pair_id"
        )


class PairService:
    """The Pair API's logic; the routes only parse and serialise."""

    def __init__(
        self,
        settings: PairApiSettings,
        store: PairStore,
        records: PairRecordStore,
        *,
        eraser: Eraser,
        spent_today: SpentToday = lambda owner: 0,
        new_pair_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._settings = settings
        self._store = store
        self._records = records
        self._eraser = eraser
        self._spent_today = spent_today
        self._new_pair_id = new_pair_id
        self._catalogue = Catalogue(store, settings.input_bucket, settings.catalogue_prefix)

    def create_pair(self, request: NewPair, owner: str) -> dict[str, Any]:
        """Record a new pair of `owner`, presign its uploads, copy a catalogue template into
        it. All or nothing: a failure leaves no pair behind."""
        s = self._settings
        cap = s.owner_daily_call_budget
        if cap and self._spent_today(owner) >= cap:
            raise BudgetSpent(
                f"today's {cap} merges are spent for this caller; try again after 00:00 UTC"
            )
        template = (
            None if request.template_id is None else self._catalogue.find(request.template_id)
        )
        pair_id = self._new_pair_id()
        # The record comes first: the fusion function learns the owner from it, and an
        # upload to a pair without one is not an API pair.
        self._records.create(
            ApiPair(
                pair_id=pair_id,
                owner=owner,
                created_at=_now(),
                source_similarity=request.source_similarity,
                correlation_id=request.correlation_id,
                template_id=request.template_id,
            )
        )
        try:
            uploads = self._uploads(pair_id, request, template)
        except Exception:
            self._records.remove(pair_id)
            raise
        return {"pair_id": pair_id, "uploads": uploads}

    def describe_pair(self, pair_id: str, owner: str) -> dict[str, Any]:
        """The public view of `owner`'s pair (`pair_api.public_view`); 404 for any other."""
        pair = self._owned(pair_id, owner)
        s = self._settings
        document = self._store.read_json(s.output_bucket, f"{s.output_prefix}{pair_id}/result.json")
        names = {
            key.rsplit("/", 1)[-1].split(".", 1)[0].lower()
            for key in self._store.list_keys(s.input_bucket, f"{s.input_prefix}{pair_id}/")
        }
        status = pair_status(
            PairFacts(
                created=True,
                has_target="target" in names,
                has_template="template" in names,
                document=document,
            )
        )
        assert status is not None  # a created pair always has one
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
        hidden = [s.input_bucket, s.output_bucket, s.input_prefix, s.output_prefix]
        return public_view(pair, status, document, result_url, hidden)

    def erase_pair(self, pair_id: str, owner: str) -> dict[str, Any]:
        """Remove every version of `owner`'s pair's inputs and outputs and its records; 404
        for a pair of another owner, and once it is erased."""
        self._owned(pair_id, owner)
        report = self._eraser(pair_id)
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

    def _owned(self, pair_id: str, owner: str) -> ApiPair:
        """`owner`'s pair `pair_id`; the same 404 whether it never existed, was erased, or
        belongs to someone else."""
        _check_pair_id(pair_id)
        pair = self._records.get(pair_id)
        if pair is None or pair.erased or pair.owner != owner:
            raise UnknownPair("no such pair")
        return pair

    def _uploads(
        self, pair_id: str, request: NewPair, template: CatalogueEntry | None
    ) -> dict[str, Any]:
        s = self._settings
        folder = f"{s.input_prefix}{pair_id}/"
        uploads = {"target": self._presign(f"{folder}{TARGET_NAME}", request)}
        if template is None:
            uploads["template"] = self._presign(f"{folder}{TEMPLATE_NAME}", request)
        else:
            self._store.copy(
                s.input_bucket,
                template.key,
                f"{folder}template.{template.extension}",
                pair_metadata(request),
            )
        return uploads

    def _presign(self, key: str, request: NewPair) -> dict[str, Any]:
        policy = upload_policy(key, request, max_bytes=self._settings.max_upload_bytes)
        return self._store.presign_post(
            self._settings.input_bucket, policy, self._settings.upload_expires_seconds
        )


def build_service(
    settings: PairApiSettings, s3: Any, dynamodb: Any, *, upload_s3: Any = None
) -> PairService:
    """The service on real clients: S3 (`upload_s3` signs the presigned POSTs when uploads go
    to another endpoint), DynamoDB for the pair records, the owners' counters and erasure."""
    from pair_api.store import S3PairStore
    from portrait_fusion.aws.erasure import PairLocations, erase_pair
    from portrait_fusion.aws.pair_records import PairRecords
    from portrait_fusion.guards.budget_counters import owner_counter_id, spent_today

    where = PairLocations(
        input_bucket=settings.input_bucket,
        output_bucket=settings.output_bucket,
        input_prefix=settings.input_prefix,
        output_prefix=settings.output_prefix,
        table=settings.table,
    )
    days = settings.result_retention_days
    records = PairRecords(settings.table, lambda: dynamodb, ttl_seconds=days * 86400 or None)

    def spent(owner: str) -> int:
        counter = owner_counter_id(datetime.now(UTC).date(), owner)
        return spent_today(dynamodb, settings.table, counter)

    return PairService(
        settings,
        S3PairStore(s3, upload_client=upload_s3),
        records,
        eraser=lambda pair_id: erase_pair(pair_id, where, s3=s3, dynamodb=dynamodb),
        spent_today=spent,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
