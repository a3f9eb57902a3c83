"""Nothing lost under load: many pairs through the local stack with random faults and a rate
limit, then every pair accounted for.

`make test` runs a small form (SOAK_PAIRS, default 24); `make soak` runs 240 pairs and
prints the figures that the README quotes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections import Counter
from pathlib import Path

from PIL import Image

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from tests import images
from tests.e2e.conftest import Queues, start_mapping
from tests.harness import Buckets, notified_keys, unique_pair
from tests.soak_accounting import Evidence, SoakPair, account

PAIRS = int(os.environ.get("SOAK_PAIRS", "24"))
FAULT_RATE = 0.15
TRANSIENT_FAULTS = (
    "SERVICE_INTERNAL_ERROR",
    "AI_SERVICE_FLOW_RESTRICTION",
    "html_502",
    "reset",
    "truncated_json",
    "ERROR_GATEWAY",
)
CONCURRENCY_CAP = 3  # the API's own limit: 429 EXCEEDING_LIMITS above it
WORKERS = 4  # one more than the API allows, so the rate limit is really hit
REPORT = Path(__file__).resolve().parents[2] / "out" / "soak.json"


def distinct_jpeg(number: int, name: str, gray: bool = False) -> bytes:
    """A portrait made unique by its size, so repeated merges really mean duplicates."""
    img = Image.open(io.BytesIO(images.portrait(name))).convert("RGB")
    img = img.crop((number % 23, number // 23, img.width, img.height))
    if gray:
        img = img.convert("L")
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def test_soak_accounts_for_every_pair(
    stack: LocalStack, buckets: Buckets, emulator: FusionEmulator, queues: Queues
) -> None:
    queues.drain(stack.queue_url)
    queues.drain(stack.dlq_url)
    emulator.set_faults(
        Faults(
            error_rate=FAULT_RATE,
            error_codes=TRANSIENT_FAULTS,
            seed=7,
            concurrency_cap=CONCURRENCY_CAP,
            latency_ms=40,
        )
    )
    pairs: list[SoakPair] = []
    kinds: dict[str, str] = {}
    started = time.monotonic()
    # The function's timeout is the queue's visibility timeout (the e2e stack's), so a batch
    # is never delivered again while an invocation still holds it, as in Lambda.
    mapping = start_mapping(stack, emulator, concurrency=WORKERS, batch_size=5)
    try:
        for number in range(PAIRS):
            kind = "gray" if number % 10 == 3 else "faceless" if number % 20 == 7 else "ok"
            pair_id = unique_pair(f"soak-{number:03d}-{kind}")
            target = distinct_jpeg(number, "astronaut.png", gray=kind == "gray")
            template = (
                images.gradient(360 + number, 360)
                if kind == "faceless"
                else distinct_jpeg(number, "grace_hopper.jpg")
            )
            halves = [("target", target), ("template", template)]
            for role, data in halves if number % 2 else reversed(halves):
                buckets.upload(pair_id, role, data)
            pairs.append(SoakPair(pair_id, (_sha256(target), _sha256(template))))
            kinds[pair_id] = kind
        # Generous: the loop ends as soon as the queue is empty; the margin is for a
        # loaded machine, where handed-back pairs take several rounds of backoff.
        documents = _wait_until_settled(buckets, queues, kinds, started + 120 + 2 * PAIRS)
    finally:
        mapping.stop()
    elapsed = time.monotonic() - started

    accounting = account(
        pairs,
        Evidence(
            documents=documents,
            dlq=_pairs_in_dlq(queues),
            merges=_merges_by_inputs(emulator),
        ),
    )
    stats = emulator.stats()
    tally = accounting.tally()
    figures = {
        "pairs_uploaded": PAIRS,
        "succeeded": tally["succeeded"],
        "failed": tally["failed"],
        "in_dlq": tally["dlq"],
        "lost": tally["lost"],
        "completed_with_a_spare_dlq_message": len(accounting.completed_with_dlq_message),
        "contradictions": accounting.contradictions,
        "api_calls": stats["calls"],
        "api_merges": stats["merges"],
        "duplicate_merges": stats["duplicates"],
        # Every billed answer (HTTP 200, usable or not) per result delivered: 1.00 would mean
        # no call paid for without a result. Injected unusable 200s each buy one replacement.
        "paid_calls": stats["billed"],
        "paid_calls_per_result": round(stats["billed"] / max(1, tally["succeeded"]), 2),
        "unusable_200s_injected": stats["by_outcome"].get("truncated_json", 0),
        "calls_by_outcome": stats["by_outcome"],
        "fault_rate": FAULT_RATE,
        "api_concurrency_cap": CONCURRENCY_CAP,
        "workers": WORKERS,
        "esm": vars(mapping.stats()),
        "wall_time_s": round(elapsed, 1),
        "pairs_per_second": round(PAIRS / elapsed, 2),
    }
    print("\nsoak:", json.dumps(figures, indent=2))
    print(f"paid calls per delivered result: {figures['paid_calls_per_result']:.2f}")
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(figures, indent=2) + "\n")

    assert tally["lost"] == 0, [p for p, o in accounting.outcomes.items() if o == "lost"]
    assert accounting.contradictions == []
    assert tally["succeeded"] + tally["failed"] + tally["dlq"] == PAIRS
    assert stats["duplicates"] == 0
    for pair_id, kind in kinds.items():
        outcome = accounting.outcomes[pair_id]
        if outcome == "dlq":
            continue
        if kind == "ok" and outcome == "failed":
            # The one way a good pair may fail here: the injected faults gave it two billed
            # answers without an image, the paid-call bound (see the README's Paid calls).
            document = buckets.document(pair_id) or {}
            assert document["error"]["code"] == "INVALID_RESPONSE", (pair_id, document["error"])
            assert len(document["api"]["unusable_request_ids"]) == 2, (pair_id, document["api"])
            continue
        wanted = "succeeded" if kind == "ok" else "failed"
        assert outcome == wanted, (pair_id, outcome)
    assert (
        stats["by_outcome"].get("EXCEEDING_LIMITS", 0)
        + sum(stats["by_outcome"].get(code, 0) for code in TRANSIENT_FAULTS)
        > 0
    )  # faults happened


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wait_until_settled(
    buckets: Buckets, queues: Queues, kinds: dict[str, str], deadline: float
) -> dict[str, str]:
    """The status of every result.json, once each pair has one or the fusion queue holds
    nothing more (visible or in flight, twice in a row): what is not done by then is in the
    DLQ or lost. Nothing is read from the DLQ here, so nothing there is hidden."""
    documents: dict[str, str] = {}
    quiet_polls = 0
    while time.monotonic() < deadline:
        for pair_id in kinds.keys() - documents.keys():
            document = buckets.document(pair_id)
            if document is not None:
                documents[pair_id] = document["status"]
        quiet_polls = quiet_polls + 1 if queues.depth(queues.stack.queue_url) == 0 else 0
        if len(documents) == len(kinds) or quiet_polls >= 2:
            break
        time.sleep(0.5)
    return documents


def _pairs_in_dlq(queues: Queues) -> Counter[str]:
    """DLQ messages per pair id, read without hiding them (see `Queues.dlq_bodies`)."""
    prefix = queues.stack.function_env.get("INPUT_PREFIX", "incoming/")
    parked: Counter[str] = Counter()
    for body in queues.dlq_bodies():
        keys = notified_keys(body)  # as sent and decoded: one pair id either way
        parked.update({k.removeprefix(prefix).split("/")[0] for k in keys if k.startswith(prefix)})
    return parked


def _merges_by_inputs(emulator: FusionEmulator) -> Counter[tuple[str, str]]:
    """Billed merges per (target, template) digest, all similarities together."""
    merges: Counter[tuple[str, str]] = Counter()
    for (target, template, _similarity), count in emulator.merges_by_inputs().items():
        merges[target, template] += count
    return merges
