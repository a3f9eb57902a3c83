"""Pairs the Pair API created, on in-memory fakes: the record decides what an upload buys."""

from __future__ import annotations

import pytest

from portrait_fusion.aws.pair_records import ApiPair, MergedVersion
from portrait_fusion.aws.storage import ObjectRef
from portrait_fusion.core.errors import PairInProgressError, TransientApiError
from portrait_fusion.core.observability import metrics
from portrait_fusion.pipeline.outcome import Status
from tests.images import as_jpeg
from tests.unit.pipeline.fakes import World, invocation, world

PAIR = "0123456789abcdef0123456789abcdef"
TARGET, TEMPLATE = f"incoming/{PAIR}/target.jpg", f"incoming/{PAIR}/template.jpg"


def api_pair(w: World, owner: str = "owner-a", pair_id: str = PAIR) -> None:
    w.api_pairs.pairs[pair_id] = ApiPair(pair_id, owner=owner, created_at="2030-01-01T00:00Z")


def upload(w: World, target: bytes, pair_id: str = PAIR) -> str:
    """Both halves of the pair; the target's version id."""
    version = w.storage.put("in", f"incoming/{pair_id}/target.jpg", target)
    w.storage.put("in", f"incoming/{pair_id}/template.jpg", as_jpeg("grace_hopper.jpg"))
    return version


def handed_back(w: World) -> None:
    """The pair's first merge meets a transient API fault: the delivery is handed back."""
    w.api.error = TransientApiError("busy", code="EXCEEDING_LIMITS")
    with pytest.raises(TransientApiError):
        w.pipeline.on_object(ObjectRef("in", TEMPLATE), invocation())
    w.api.error = None


def test_an_api_pair_is_merged_once_whatever_is_uploaded_after() -> None:
    w = world()
    api_pair(w)
    upload(w, as_jpeg(size=(300, 300)))
    assert w.pipeline.on_object(ObjectRef("in", TEMPLATE), invocation()).status is Status.SUCCEEDED
    document = w.storage.objects["out", f"results/{PAIR}/result.json"]
    w.storage.put("in", TARGET, as_jpeg(size=(320, 320)))  # the form posted again
    outcome = w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    assert (outcome.status, outcome.detail) == (
        Status.SKIPPED,
        "the pair was merged from other uploads",
    )
    assert len(w.api.calls) == 1
    assert w.storage.objects["out", f"results/{PAIR}/result.json"] == document
    assert metrics.metric_set["UploadsAfterMerge"]["Value"] == [1.0]


def test_a_redelivery_of_the_merged_version_replays_without_a_call() -> None:
    w = world()
    api_pair(w)
    upload(w, as_jpeg(size=(300, 300)))
    w.pipeline.on_object(ObjectRef("in", TEMPLATE), invocation())
    again = w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    assert again.status is Status.SUCCEEDED
    assert len(w.api.calls) == 1


def test_the_same_folder_without_a_record_is_an_ordinary_pair_merged_per_version() -> None:
    w = world()
    upload(w, as_jpeg(size=(300, 300)))
    w.pipeline.on_object(ObjectRef("in", TEMPLATE), invocation())
    w.storage.put("in", TARGET, as_jpeg(size=(320, 320)))
    assert w.pipeline.on_object(ObjectRef("in", TARGET), invocation()).status is Status.SUCCEEDED
    assert len(w.api.calls) == 2


def test_an_upload_to_an_erased_pair_is_removed_and_nothing_else_happens() -> None:
    w = world()
    w.api_pairs.pairs[PAIR] = ApiPair(PAIR, owner="", created_at="", erased=True)
    w.storage.put("in", TARGET, as_jpeg())
    outcome = w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    assert outcome.status is Status.SKIPPED
    assert ("in", TARGET) not in w.storage.objects
    assert w.partners.halves == []  # no lone-half marker: no expiry document later
    assert w.storage.writes == [] and w.api.calls == []
    assert metrics.metric_set["UploadsToErasedPairs"]["Value"] == [1.0]


def two_owners_send_the_same_portrait(w: World) -> str:
    """Owner A's pair, then owner B's with the same photo, both run; B's pair id."""
    other = "f" * 32
    api_pair(w, owner="owner-a")
    api_pair(w, owner="owner-b", pair_id=other)
    image = as_jpeg(size=(300, 300))
    upload(w, image)
    upload(w, image, pair_id=other)
    w.pipeline.on_object(ObjectRef("in", TEMPLATE), invocation())
    w.pipeline.on_object(ObjectRef("in", f"incoming/{other}/template.jpg"), invocation())
    return other


def test_the_owner_scopes_re_use_and_pays_for_the_call() -> None:
    w = world(reuse=True)
    other = two_owners_send_the_same_portrait(w)
    assert len(w.api.calls) == 2  # owner-b is never handed owner-a's result
    document = w.storage.document("out", f"results/{other}/result.json")
    assert "reused_from" not in document


def test_re_use_across_owners_when_switched_on() -> None:
    w = world(reuse=True, REUSE_ACROSS_OWNERS="true")
    other = two_owners_send_the_same_portrait(w)
    assert len(w.api.calls) == 1
    assert w.storage.document("out", f"results/{other}/result.json")["reused_from"] == PAIR


def test_a_handed_back_merge_is_finished_from_the_claimed_inputs_after_a_form_posted_again() -> (
    None
):
    w = world()
    api_pair(w)
    claimed = upload(w, as_jpeg(size=(300, 300)))
    handed_back(w)
    w.storage.put("in", TARGET, as_jpeg(size=(320, 320)))  # the form posted again
    retry = w.pipeline.on_object(ObjectRef("in", TEMPLATE), invocation())  # reads the newest
    assert retry.status is Status.SUCCEEDED
    assert retry.document is not None
    assert retry.document["inputs"]["target"]["version_id"] == claimed
    assert retry.document["inputs"]["target"]["width"] == 300
    assert len({call.pair_key for call in w.api.calls}) == 1  # the faulted call and its retry
    assert metrics.metric_set["UploadsAfterMerge"]["Value"] == [1.0]
    # the re-posted form's own notification, once the claimed version has ended
    document = w.storage.objects["out", f"results/{PAIR}/result.json"]
    late = w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    assert (late.status, late.detail) == (Status.SKIPPED, "the pair was merged from other uploads")
    assert len(w.api.calls) == 2
    assert w.storage.objects["out", f"results/{PAIR}/result.json"] == document


def test_the_notification_of_a_form_posted_again_finishes_the_claimed_version_first() -> None:
    w = world()
    api_pair(w)
    claimed = upload(w, as_jpeg(size=(300, 300)))
    handed_back(w)
    w.storage.put("in", TARGET, as_jpeg(size=(320, 320)))
    reposted = w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    assert reposted.status is Status.SUCCEEDED
    assert reposted.document is not None
    assert reposted.document["inputs"]["target"]["version_id"] == claimed
    retry = w.pipeline.on_object(ObjectRef("in", TEMPLATE), invocation())
    assert retry.status is Status.SKIPPED
    assert len(w.api.calls) == 2
    assert (
        w.storage.document("out", f"results/{PAIR}/result.json")["inputs"]["target"]["version_id"]
        == claimed
    )


def test_a_form_posted_again_while_the_claimed_version_runs_elsewhere_is_handed_back() -> None:
    w = world()
    api_pair(w)
    upload(w, as_jpeg(size=(300, 300)))
    handed_back(w)
    w.storage.put("in", TARGET, as_jpeg(size=(320, 320)))
    w.guard.in_progress = True  # the retry of the claimed version is running
    with pytest.raises(PairInProgressError):
        w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    assert len(w.api.calls) == 1
    assert ("out", f"results/{PAIR}/result.json") not in w.storage.objects


def test_a_claim_that_names_no_versions_skips_other_uploads_as_before() -> None:
    w = world()
    w.api_pairs.pairs[PAIR] = ApiPair(
        PAIR, owner="owner-a", created_at="2030-01-01T00:00Z", merged=MergedVersion("older")
    )
    upload(w, as_jpeg(size=(300, 300)))
    outcome = w.pipeline.on_object(ObjectRef("in", TARGET), invocation())
    assert outcome.status is Status.SKIPPED
    assert w.api.calls == [] and w.storage.writes == []
