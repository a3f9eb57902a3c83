"""Throughput through the local SQS event source mapping against the API's concurrency cap.

The mapping runs as many workers as the cap allows (ScalingConfig.MaximumConcurrency = the
API's cap, as the template wires it), with the template's BatchSize for ours. Every pair
carries the same two images (tagged apart, see `workload`), so the emulator answers from its
cache and takes the configured latency, not its merge time, per call; a duplicate call is
then a billed merge beyond one per finished pair. The first halves go first: lone halves,
quick to handle, they start the workers, so the measured part, from the first second half
uploaded to the last result, holds no cold start. The emulator's call log gives the slot
timeline (`timeline`); the queue, looked at as the run goes, when it last had messages
waiting (the steady state's end).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from benchmarks.timeline import SlotRun
from benchmarks.workload import (
    HANDLERS,
    MEMORY_MB,
    VISIBILITY_TIMEOUT_S,
    Bench,
    Pair,
    check_not_reused,
    new_pair_id,
)
from local_stack.emulator import Faults
from local_stack.esm import EventSourceMapping

# The naive handler pulls nothing itself: it keeps the batches of five it has always been
# measured with (the template's earlier default), so its figures compare across runs.
BASELINE_BATCH_SIZE = 5
_POLL_S = 0.25
_SAMPLE_S = 0.01
_SLACK_S = 30.0  # past the ideal duration before pairs still missing count as lost


@dataclass(frozen=True)
class Throughput:
    """One handler's run: pairs per second, what the API saw, what never finished."""

    pairs: int
    seconds: float
    pairs_per_second: float
    cap_pairs_per_second: float
    succeeded: int
    lost: int
    api_calls: int
    duplicate_calls: int
    rate_limited_calls: int
    busy_share_of_cap: float
    slots: SlotRun

    @property
    def share_of_cap(self) -> float:
        """Throughput as a fraction of what the cap allows."""
        return self.pairs_per_second / self.cap_pairs_per_second


def measure(
    bench: Bench,
    name: str,
    pair: Pair,
    *,
    pairs: int,
    cap: int,
    latency_ms: int,
    env: Mapping[str, str] | None = None,
) -> Throughput:
    """Push `pairs` pairs through the mapping for handler `name` with the API capped (the
    function's environment `env`, else the bench's)."""
    ids = [new_pair_id(name) for _ in range(pairs)]
    bench.clear_buckets()
    bench.emulator.reset()
    bench.emulator.set_faults(Faults(latency_ms=latency_ms, concurrency_cap=cap))
    esm = EventSourceMapping(
        bench.stack.queue_url,
        handler=HANDLERS[name],
        env=bench.env if env is None else env,
        batch_size=bench.stack.batch_size if name == "ours" else BASELINE_BATCH_SIZE,
        concurrency=cap,
        # no longer than the queue's visibility timeout, which Lambda requires of a mapping
        function_timeout_s=min(bench.stack.function_timeout, VISIBILITY_TIMEOUT_S),
        memory_size_mb=MEMORY_MB,
        endpoint_url=bench.stack.endpoint_url,
        log_file=bench.log_file,
    )
    with esm:
        for pair_id in ids:
            bench.upload(pair_id, "target", pair.target)
        # Every lone half handled before the measured part: the queue empty (the function
        # deletes what it pulled itself, the mapping what it delivered), after at least one
        # delivery (the queue is empty too before the first notification arrives).
        _wait(
            lambda: esm.stats().messages_deleted >= 1 and bench.queue_settled(),
            timeout_s=60 + pairs,
        )
        started, started_monotonic = time.time(), time.monotonic()
        for pair_id in ids:
            bench.upload(pair_id, "template", pair.template)
        ideal_s = pairs / cap * latency_ms / 1000
        in_flight, queue_waiting = _sample(
            bench, lambda: len(bench.finished(ids)) == pairs, timeout_s=ideal_s + _SLACK_S
        )
    documents = {pair_id: bench.document(pair_id) or {} for pair_id in bench.finished(ids)}
    for document in documents.values():
        check_not_reused(name, document)
    stats = bench.emulator.stats()
    calls = bench.emulator.call_log()
    bench.emulator.reset()
    finished = [datetime.fromisoformat(d["finished_at"]).timestamp() for d in documents.values()]
    seconds = (max(finished) if finished else time.time()) - started
    succeeded = sum(d.get("status") == "succeeded" for d in documents.values())
    return Throughput(
        pairs=pairs,
        seconds=seconds,
        pairs_per_second=succeeded / seconds,
        cap_pairs_per_second=cap * 1000 / latency_ms,
        succeeded=succeeded,
        lost=pairs - succeeded,
        api_calls=stats["calls"],
        # Each finished pair needs one billed merge; any beyond that billed something twice.
        duplicate_calls=stats["merges"] - succeeded,
        rate_limited_calls=stats["by_outcome"].get("EXCEEDING_LIMITS", 0),
        busy_share_of_cap=busy_share(in_flight, cap),
        slots=SlotRun(cap, started_monotonic, started_monotonic + seconds, calls, queue_waiting),
    )


def busy_share(in_flight: list[int], cap: int) -> float:
    """The mean share of the cap in use, from the first to the last sample at the cap.

    That span leaves out the ramp-up and the tail, where some workers have no messages left
    (a batch size above 1 makes the tail uneven): what remains shows whether the handler
    keeps the API busy while there is work, i.e. its overhead between calls.
    """
    full = [i for i, value in enumerate(in_flight) if value >= cap]
    if not full:
        return 0.0
    window = in_flight[full[0] : full[-1] + 1]
    return sum(window) / len(window) / cap


def _wait(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(_POLL_S)


def _sample(
    bench: Bench, done: Callable[[], bool], timeout_s: float
) -> tuple[list[int], float | None]:
    """The emulator's calls in flight every few ms, until `done()` or the timeout; and the
    last time messages were seen waiting in the queue (looked at every `_POLL_S`)."""
    samples: list[int] = []
    queue_waiting = None
    deadline = time.monotonic() + timeout_s
    next_check = 0.0
    while (now := time.monotonic()) < deadline:
        samples.append(bench.emulator.stats()["in_flight"])
        if now >= next_check:
            if bench.messages_waiting():
                queue_waiting = now
            if done():
                break
            next_check = now + _POLL_S
        time.sleep(_SAMPLE_S)
    return samples, queue_waiting
