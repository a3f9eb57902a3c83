"""Round trips per pair: the requests a handler makes to AWS and to the API, and how many
of them it makes one after another.

moto's request log and the emulator's call log record what each server was asked and
when. A handler's requests are those inside the window of its `Sandbox.invoke`, a time
when nothing else talks to either server (the bench uploads before and reads after it).
Requests whose times overlap were in flight together: merging overlapping intervals gives
the sequential rounds, the latency a far-away region would multiply.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from benchmarks.percentiles import median
from local_stack.emulator.ledger import LoggedCall
from local_stack.request_log import LoggedRequest

API = "face-fusion API"
# What a pair may ask for: listed in the table even where a handler asks for none of it.
EXPECTED = (
    "s3 ListObjectsV2",
    "s3 HeadObject",
    "s3 GetObject",
    "s3 PutObject",
    "dynamodb GetItem",
    "dynamodb PutItem",
    "dynamodb UpdateItem",
    "sqs ChangeMessageVisibility",
    "events PutEvents",
    "secretsmanager GetSecretValue",
    API,
)


@dataclass(frozen=True)
class Interval:
    """When a server was busy with one request."""

    start: float
    end: float


@dataclass(frozen=True)
class RoundTrips:
    """One pair's requests: how many by operation (e.g. `s3 GetObject`), in how many rounds."""

    by_operation: dict[str, int]
    rounds: int

    @property
    def requests(self) -> int:
        """Every request, to AWS and the API."""
        return sum(self.by_operation.values())

    @property
    def api_requests(self) -> int:
        """The calls to the face-fusion API."""
        return self.by_operation.get(API, 0)


def sequential_rounds(intervals: list[Interval]) -> int:
    """How many groups of overlapping intervals there are (touching ones do not overlap)."""
    rounds = 0
    reach = float("-inf")
    for interval in sorted(intervals, key=lambda i: i.start):
        if interval.start >= reach:
            rounds += 1
        reach = max(reach, interval.end)
    return rounds


def within(
    aws: list[LoggedRequest],
    api: list[LoggedCall],
    start: float,
    end: float,
    *,
    aws_rtt_s: float = 0.0,
    api_rtt_s: float = 0.0,
) -> RoundTrips:
    """The round trips of the requests that began inside [start, end].

    With round-trip times (the bench's network model, where each request reaches its server
    half an RTT after the handler sent it and its answer arrives half an RTT after the
    server's), each server interval is widened to the handler's view of it: requests sent
    together then overlap, and a request sent only after another's answer never does.
    """
    counted: Counter[str] = Counter()
    intervals = []
    for request in aws:
        if start <= request.start <= end:
            counted[f"{request.service} {request.operation}"] += 1
            intervals.append(_seen_by_client(request.start, request.end, aws_rtt_s))
    for call in api:
        if start <= call.start <= end:
            counted[API] += 1
            intervals.append(_seen_by_client(call.start, call.end, api_rtt_s))
    return RoundTrips(dict(sorted(counted.items())), sequential_rounds(intervals))


def _seen_by_client(start: float, end: float, rtt_s: float) -> Interval:
    return Interval(start - rtt_s / 2, end + rtt_s / 2)


def typical(pairs: list[RoundTrips]) -> RoundTrips:
    """The per-operation medians of several pairs (rounded), and their median rounds."""
    operations = sorted({op for pair in pairs for op in pair.by_operation})
    return RoundTrips(
        {op: round(median([pair.by_operation.get(op, 0) for pair in pairs])) for op in operations},
        round(median([pair.rounds for pair in pairs])) if pairs else 0,
    )


def table(ours: RoundTrips, baseline: RoundTrips) -> str:
    """Both handlers' requests by operation, with the totals and the rounds."""
    seen = set(ours.by_operation) | set(baseline.by_operation)
    operations = [*EXPECTED, *sorted(seen - set(EXPECTED))]
    lines = [f"{'request':32} {'ours':>6} {'baseline':>9}"]
    lines += [
        f"{op:32} {ours.by_operation.get(op, 0):6d} {baseline.by_operation.get(op, 0):9d}"
        for op in operations
    ]
    lines.append(f"{'total requests':32} {ours.requests:6d} {baseline.requests:9d}")
    lines.append(f"{'sequential rounds':32} {ours.rounds:6d} {baseline.rounds:9d}")
    return "\n".join(lines)
