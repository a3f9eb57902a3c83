"""The API's concurrency cap holds on every path at once: the queue, S3 Batch Operations,
asynchronous S3 / EventBridge invokes and ad-hoc calls, all sharing the function's reserved
concurrency (ReservedConcurrentExecutions = MaxConcurrency) in the local stack.

The emulator refuses any call beyond MaxConcurrency in flight (EXCEEDING_LIMITS), and each
call is held long enough for calls from different paths to overlap.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from local_stack.esm import EventSourceMapping
from local_stack.reserved_concurrency import (
    LocalFunction,
    ReservedConcurrency,
    TooManyRequestsError,
)
from tests import images
from tests.conftest import load_event
from tests.e2e.conftest import Queues, settle
from tests.function_logs import metric_total
from tests.harness import Buckets, function_environment, unique_pair

PAIRS_PER_PATH = 4


def upload(buckets: Buckets, label: str) -> tuple[str, str, str]:
    pair_id = unique_pair(label)
    target = buckets.upload(pair_id, "target", images.as_jpeg())
    template = buckets.upload(pair_id, "template", images.as_png(), "png")
    return pair_id, target, template


def s3_event(stack: LocalStack, key: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("s3-object-created.json"))
    event["Records"][0]["s3"]["bucket"]["name"] = stack.input_bucket
    event["Records"][0]["s3"]["object"]["key"] = quote_plus(key, safe="/")
    return event


def batch_event(stack: LocalStack, keys: list[str]) -> dict[str, Any]:
    event = copy.deepcopy(load_event("batch-operations-2.0.json"))
    event["tasks"] = [
        {"taskId": str(i), "s3Bucket": stack.input_bucket, "s3Key": quote(k, safe="/")}
        for i, k in enumerate(keys)
    ]
    return event


def test_a_burst_mixing_every_path_never_exceeds_max_concurrency(
    stack: LocalStack,
    emulator: FusionEmulator,
    buckets: Buckets,
    queues: Queues,
    tmp_path: Path,
) -> None:
    cap = stack.reserved_concurrency
    assert cap == stack.max_concurrency == 3  # the template ties them together
    emulator.set_faults(Faults(latency_ms=400, concurrency_cap=cap))
    queues.drain(stack.queue_url)
    direct = {path: [upload(buckets, path) for _ in range(PAIRS_PER_PATH)]
              for path in ("ad-hoc", "batch", "async")}  # fmt: skip
    queues.drain(stack.queue_url)  # these pairs arrive only through their own path
    queued = [upload(buckets, "queued") for _ in range(PAIRS_PER_PATH)]

    reserved = ReservedConcurrency(cap)
    # A short API timeout lets the queue's invocations pull messages beyond their batch
    # (`pull_threshold`): those calls count against the cap too.
    environment = function_environment(
        stack, emulator.url, emulator.ca_bundle, API_TIMEOUT_SECONDS="10"
    )
    queue_log = tmp_path / "queue-invocations.log"
    function = LocalFunction(
        reserved,
        {"handler": stack.handler, "env": environment, "timeout_s": 60.0},
    )
    mapping = EventSourceMapping(
        stack.queue_url,
        handler=stack.handler,
        env=environment,
        batch_size=1,
        concurrency=stack.max_concurrency,
        function_timeout_s=stack.visibility_timeout,
        endpoint_url=stack.endpoint_url,
        reserved=reserved,
        log_file=queue_log,
    )
    refused: list[str] = []

    def ad_hoc(pair: tuple[str, str, str]) -> None:
        event = {
            "target": f"s3://{stack.input_bucket}/{pair[1]}",
            "template": f"s3://{stack.input_bucket}/{pair[2]}",
        }
        try:
            function.invoke(event)
        except TooManyRequestsError:
            refused.append(pair[0])  # a user's CLI call at the cap gets a 429 and retries
            function.invoke_when_free(event)

    callers = [threading.Thread(target=ad_hoc, args=(pair,)) for pair in direct["ad-hoc"]]
    callers.append(
        threading.Thread(
            target=function.invoke_when_free,
            args=(batch_event(stack, [pair[1] for pair in direct["batch"]]),),
        )
    )
    try:
        mapping.start()
        for pair in direct["async"]:
            function.invoke_async(s3_event(stack, pair[2]))
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(120)
        function.wait_async(120)
        stats = settle(emulator, queues)
    finally:
        mapping.stop()
        function.close()

    print(  # the figures the README quotes (run with -s)
        f"pairs={4 * PAIRS_PER_PATH} api_calls={stats['calls']} "
        f"max_in_flight={stats['max_in_flight']} reserved_peak={reserved.peak} "
        f"throttles={reserved.throttles} ad_hoc_refused={len(refused)}"
    )
    every_pair = [pair for pairs in direct.values() for pair in pairs] + queued
    documents = {pair[0]: buckets.wait_for_document(pair[0]) for pair in every_pair}
    assert {doc["status"] for doc in documents.values()} == {"succeeded"}
    assert stats["max_in_flight"] <= cap
    assert stats["by_outcome"].get("EXCEEDING_LIMITS", 0) == 0
    assert reserved.peak <= cap
    # The cap was reached, so the test could have seen it broken.
    assert reserved.peak == cap
    assert reserved.throttles > 0 or refused
    # and the queue's invocations pulled messages of their own under it
    assert metric_total(queue_log, "MessagesPulled") >= 1
