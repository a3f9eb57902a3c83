"""The Lambda-like runtime: context, SQS events, and execution environments."""

import json
import time
from pathlib import Path

from aws_xray_sdk.core.models.trace_header import TraceHeader

from local_stack.lambda_runtime import (
    ExecutionEnvironment,
    LambdaContext,
    sqs_event,
    sqs_message,
    trace_header,
)
from tests.local_stack.support import HANDLER, read_calls

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:q"


def test_remaining_time_counts_down_and_stops_at_zero() -> None:
    context = LambdaContext.create(timeout_s=1.0)
    first = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    assert 900 < first <= 1000
    assert first - context.get_remaining_time_in_millis() >= 40
    assert LambdaContext.create(timeout_s=0).get_remaining_time_in_millis() == 0


def test_a_context_looks_like_the_python_runtimes() -> None:
    context = LambdaContext.create("Fn", timeout_s=3, memory_mb=512, region="eu-west-1")
    assert context.invoked_function_arn == "arn:aws:lambda:eu-west-1:123456789012:function:Fn"
    assert context.memory_limit_in_mb == "512"
    assert context.function_version == "$LATEST"
    assert context.log_group_name == "/aws/lambda/Fn"
    assert "[$LATEST]" in context.log_stream_name
    assert context.aws_request_id != LambdaContext.create("Fn").aws_request_id


def test_an_sqs_event_built_without_a_queue_has_lambdas_record_shape() -> None:
    event = sqs_event([sqs_message("hello", receive_count=3)], queue_arn=QUEUE_ARN)
    [record] = event["Records"]
    assert record["body"] == "hello"
    assert record["md5OfBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert record["attributes"]["ApproximateReceiveCount"] == "3"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == QUEUE_ARN
    assert record["awsRegion"] == "us-east-1"
    assert record["messageAttributes"] == {}
    assert "md5OfMessageAttributes" not in record


def test_binary_message_attributes_become_base64_text() -> None:
    message = sqs_message("x") | {
        "MessageAttributes": {"blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
        "MD5OfMessageAttributes": "abc",
    }
    [record] = sqs_event([message], queue_arn=QUEUE_ARN)["Records"]
    assert record["messageAttributes"]["blob"] == {
        "binaryValue": "AAE=",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }
    assert record["md5OfMessageAttributes"] == "abc"


def test_a_warm_environment_serves_invocations_in_one_process(tmp_path: Path) -> None:
    calls_file = tmp_path / "calls.jsonl"
    environment = ExecutionEnvironment(HANDLER, env={"CALLS_FILE": str(calls_file)})
    try:
        event = sqs_event([sqs_message("ok")], queue_arn=QUEUE_ARN)
        cold, warm = environment.invoke(event), environment.invoke(event)
    finally:
        environment.close()
    assert (cold.status, warm.status) == ("success", "success")
    assert cold.response == warm.response == {"batchItemFailures": []}
    assert cold.init_duration_ms is not None
    assert warm.init_duration_ms is None
    assert warm.max_memory_used_mb is not None and warm.max_memory_used_mb > 0
    assert len({call["pid"] for call in read_calls(calls_file)}) == 1


def test_an_init_failure_fails_the_invocation_and_init_is_retried(tmp_path: Path) -> None:
    environment = ExecutionEnvironment("tests.local_stack.handlers.missing", env={})
    event = sqs_event([sqs_message("ok")], queue_arn=QUEUE_ARN)
    first, second = environment.invoke(event), environment.invoke(event)
    for invocation in (first, second):
        assert invocation.status == "error"
        assert invocation.error is not None
        assert invocation.error["errorType"] == "Runtime.ImportModuleError"
        assert invocation.init_duration_ms is not None


def test_handler_errors_and_reports_go_to_the_log_file(tmp_path: Path) -> None:
    log_file = tmp_path / "function.log"
    environment = ExecutionEnvironment(
        HANDLER, env={"CALLS_FILE": str(tmp_path / "calls.jsonl")}, log_file=log_file
    )
    try:
        invocation = environment.invoke(sqs_event([sqs_message("raise")], queue_arn=QUEUE_ARN))
    finally:
        environment.close()
    assert invocation.status == "error"
    assert invocation.error is not None
    assert invocation.error["errorType"] == "RuntimeError"
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    [error] = [line for line in lines if line.get("level") == "ERROR"]
    assert (error["errorMessage"], error["requestId"]) == ("asked to raise", invocation.request_id)
    [report] = [line for line in lines if line.get("type") == "platform.report"]
    assert report["record"]["requestId"] == invocation.request_id
    assert report["record"]["status"] == "error"


def test_a_trace_header_is_one_x_ray_reads_as_lambda_sets_it() -> None:
    sampled = TraceHeader.from_header_str(trace_header(sampled=True))
    unsampled = TraceHeader.from_header_str(trace_header(sampled=False))
    assert (sampled.sampled, unsampled.sampled) == (1, 0)
    assert sampled.root.startswith("1-") and len(sampled.root) == 35
    assert len(sampled.parent) == 16
    assert sampled.root != unsampled.root
