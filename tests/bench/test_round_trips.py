"""Round trips per pair: naming requests as AWS does, attributing them to a handler's
window, and counting the sequential rounds."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from benchmarks.round_trips import (
    API,
    Interval,
    RoundTrips,
    sequential_rounds,
    table,
    typical,
    within,
)
from local_stack.emulator.ledger import Ledger, LoggedCall
from local_stack.request_log import LoggedRequest, RequestLog, operation_of

SIGNED_S3 = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, X=y"
SIGNED_DDB = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request"


def s3(method: str, path: str, query: str = "", **headers: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_AUTHORIZATION": SIGNED_S3,
        **headers,
    }


def test_s3_requests_are_named_from_method_path_and_query() -> None:
    names = [
        operation_of(s3("GET", "/bucket", "list-type=2&prefix=incoming%2Fp%2F")).name,
        operation_of(s3("HEAD", "/bucket/incoming/p/target.jpg")).name,
        operation_of(s3("GET", "/bucket/incoming/p/target.jpg")).name,
        operation_of(s3("PUT", "/bucket/results/p/result.json")).name,
        operation_of(s3("PUT", "/bucket/r/x.jpg", HTTP_X_AMZ_COPY_SOURCE="/b/k")).name,
        operation_of(s3("POST", "/bucket", "delete")).name,
    ]
    assert names == [
        "ListObjectsV2",
        "HeadObject",
        "GetObject",
        "PutObject",
        "CopyObject",
        "DeleteObjects",
    ]
    assert operation_of(s3("GET", "/bucket")).service == "s3"


def test_json_protocol_requests_are_named_from_their_target_header() -> None:
    operation = operation_of(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/",
            "HTTP_AUTHORIZATION": SIGNED_DDB,
            "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.UpdateItem",
        }
    )
    assert (operation.service, operation.name) == ("dynamodb", "UpdateItem")
    unsigned = operation_of({"REQUEST_METHOD": "GET", "PATH_INFO": "/x"})
    assert (unsigned.service, unsigned.name) == ("unknown", "GET /x")


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [])
    return [b"a", b"b"]


def test_the_request_log_records_only_while_recording_and_passes_answers_through() -> None:
    log = RequestLog(app)
    assert list(log(s3("GET", "/b/k"), lambda *_: None)) == [b"a", b"b"]
    assert log.entries() == []
    log.recording = True
    assert list(log(s3("GET", "/b/k"), lambda *_: None)) == [b"a", b"b"]
    (entry,) = log.entries()
    assert (entry.service, entry.operation) == ("s3", "GetObject")
    assert entry.start <= entry.end
    log.clear()
    assert log.entries() == []


def test_overlapping_requests_count_as_one_round_touching_ones_as_two() -> None:
    assert sequential_rounds([]) == 0
    # two reads at once, then a write, then two that merely touch
    intervals = [Interval(0, 2), Interval(1, 3), Interval(4, 5), Interval(6, 7), Interval(7, 8)]
    assert sequential_rounds(intervals) == 4
    # a long request swallows the shorter ones inside it, in any order
    assert sequential_rounds([Interval(2, 3), Interval(0, 10), Interval(4, 5)]) == 1


def request(operation: str, start: float, end: float) -> LoggedRequest:
    return LoggedRequest("s3", operation, start, end)


def test_only_the_requests_inside_the_handlers_window_are_its_own() -> None:
    aws = [
        request("PutObject", 0.0, 0.1),  # the bench uploading, before the window
        request("ListObjectsV2", 1.0, 1.1),
        request("GetObject", 1.2, 1.4),
        request("GetObject", 1.25, 1.45),
        request("PutObject", 1.9, 2.0),
        request("GetObject", 2.5, 2.6),  # the bench reading the document, after it
    ]
    api = [LoggedCall(0.2, 0.5, 200), LoggedCall(1.5, 1.8, 200)]
    trips = within(aws, api, start=1.0, end=2.1)
    assert trips.by_operation == {
        API: 1,
        "s3 GetObject": 2,
        "s3 ListObjectsV2": 1,
        "s3 PutObject": 1,
    }
    assert trips.requests == 5
    assert trips.api_requests == 1
    assert trips.rounds == 4  # list, both reads at once, the call, the write


def test_with_round_trip_times_rounds_are_counted_as_the_handler_sees_them() -> None:
    # Two reads sent together reach the server 0.5 ms apart and are answered in 1 ms each:
    # they never overlap there. Then a write sent once the first read's answer arrived.
    rtt = 0.010
    aws = [
        request("GetObject", 0.0050, 0.0060),
        request("GetObject", 0.0065, 0.0075),
        request("PutObject", 0.0175, 0.0180),
    ]
    api = [LoggedCall(0.0480, 0.0500, 200)]  # sent once the write's answer arrived (0.023 s)
    assert within(aws, api, 0, 1).rounds == 4  # at the servers, nothing overlaps
    trips = within(aws, api, 0, 1, aws_rtt_s=rtt, api_rtt_s=0.050)
    assert trips.rounds == 3  # both reads, the write, the call


def test_the_typical_pair_takes_each_count_s_median() -> None:
    pairs = [
        within([request("GetObject", 1, 2)], [], 0, 10),
        within([request("GetObject", 1, 2), request("GetObject", 3, 4)], [], 0, 10),
        within([request("GetObject", 1, 2), request("HeadObject", 3, 4)], [], 0, 10),
    ]
    middle = typical(pairs)
    assert middle.by_operation == {"s3 GetObject": 1, "s3 HeadObject": 0}
    assert middle.rounds == 2


def test_the_ledger_logs_calls_only_once_asked_and_a_reset_empties_the_log() -> None:
    ledger = Ledger()
    ledger.log_call(LoggedCall(0.0, 1.0, 200))
    assert ledger.call_log() == []
    ledger.keep_call_log()
    ledger.log_call(LoggedCall(0.0, 1.0, 429))
    assert ledger.call_log() == [LoggedCall(0.0, 1.0, 429)]
    ledger.reset()
    assert ledger.call_log() == []
    ledger.log_call(LoggedCall(2.0, 3.0, 200))
    assert len(ledger.call_log()) == 1


def test_the_table_lists_every_expected_operation_and_anything_else_seen() -> None:
    ours = RoundTrips({"s3 GetObject": 2, API: 1, "sqs SendMessage": 1}, rounds=2)
    baseline = RoundTrips({"s3 GetObject": 2, API: 1}, rounds=3)
    lines = table(ours, baseline).splitlines()
    rows = {line.rsplit(maxsplit=2)[0]: line.split()[-2:] for line in lines[1:]}
    assert rows["s3 HeadObject"] == ["0", "0"]
    assert rows["secretsmanager GetSecretValue"] == ["0", "0"]
    assert rows["sqs SendMessage"] == ["1", "0"]
    assert rows["total requests"] == ["4", "3"]
    assert rows["sequential rounds"] == ["2", "3"]
