"""Nothing lost under load: many pairs through the local stack with random faults and a rate
limit, then every pair accounted for.

`make test` runs a small form (SOAK_PAIRS, default 24); `make soak` runs 240 pairs and
prints the figures that the README quotes.
"""

from __future__ import annotations

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
from tests.harness import Buckets, unique_pair

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
    mapping = start_mapping(stack, emulator, concurrency=WORKERS, batch_size=5)
    expected: dict[str, str] = {}
    started = time.monotonic()
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
            expected[pair_id] = kind
        # Generous: the loop ends as soon as every pair is accounted for; the margin is for a
        # loaded machine, where handed-back pairs take several rounds of backoff.
        outcomes = _wait_for_outcomes(buckets, queues, stack, expected, started + 120 + 2 * PAIRS)
    finally:
        mapping.stop()
    elapsed = time.monotonic() - started

    stats = emulator.stats()
    tally = Counter(outcomes.values())
    figures = {
        "pairs_uploaded": PAIRS,
        "succeeded": tally["succeeded"],
        "failed": tally["failed"],
        "in_dlq": tally["dlq"],
        "lost": tally["lost"],
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

    assert tally["lost"] == 0, [p for p, o in outcomes.items() if o == "lost"]
    assert tally["succeeded"] + tally["failed"] + tally["dlq"] == PAIRS
    assert stats["duplicates"] == 0
    for pair_id, kind in expected.items():
        if outcomes[pair_id] == "dlq":
            continue
        if kind == "ok" and outcomes[pair_id] == "failed":
            # The one way a good pair may fail here: the injected faults gave it two billed
            # answers without an image, the paid-call bound (see the README's Paid calls).
            document = buckets.document(pair_id) or {}
            assert document["error"]["code"] == "INVALID_RESPONSE", (pair_id, document["error"])
            assert len(document["api"]["unusable_request_ids"]) == 2, (pair_id, document["api"])
            continue
        wanted = "succeeded" if kind == "ok" else "failed"
        assert outcomes[pair_id] == wanted, (pair_id, outcomes[pair_id])
    assert (
        stats["by_outcome"].get("EXCEEDING_LIMITS", 0)
        + sum(stats["by_outcome"].get(code, 0) for code in TRANSIENT_FAULTS)
        > 0
    )  # faults happened


def _wait_for_outcomes(
    buckets: Buckets, queues: Queues, stack: LocalStack, expected: dict[str, str], deadline: float
) -> dict[str, str]:
    """Every pair's end: its document's status, `dlq`, or `lost` if neither by the deadline."""
    outcomes: dict[str, str] = {}
    while time.monotonic() < deadline:
        for pair_id in expected.keys() - outcomes.keys():
            document = buckets.document(pair_id)
            if document is not None:
                outcomes[pair_id] = document["status"]
        quiet = queues.depth(stack.queue_url) == 0
        if len(outcomes) == len(expected) or (
            quiet and _dlq_holds_the_rest(queues, stack, expected.keys() - outcomes.keys())
        ):
            break
        time.sleep(0.5)
    parked = _pairs_in_dlq(queues, stack)
    for pair_id in expected.keys() - outcomes.keys():
        outcomes[pair_id] = "dlq" if pair_id in parked else "lost"
    return outcomes


def _pairs_in_dlq(queues: Queues, stack: LocalStack) -> set[str]:
    attributes = queues.sqs.get_queue_attributes(
        QueueUrl=stack.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    if not int(attributes["ApproximateNumberOfMessages"]):
        return set()
    pairs = set()
    for body in queues.dlq_bodies():
        for record in json.loads(body).get("Records", []):
            pairs.add(record["s3"]["object"]["key"].replace("%2F", "/").split("/")[1])
    return pairs


def _dlq_holds_the_rest(queues: Queues, stack: LocalStack, missing: set[str]) -> bool:
    return not missing or missing <= _pairs_in_dlq(queues, stack)
