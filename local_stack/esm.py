"""A local SQS event source mapping that behaves like Lambda's.

One poller thread per allowed concurrent execution (``ScalingConfig.MaximumConcurrency``),
each driving its own :class:`~local_stack.lambda_runtime.ExecutionEnvironment`: it long-polls
the queue, sends the batch as Lambda's SQS event, and then, with ReportBatchItemFailures,
deletes every message the function did not report as failed. An error, a crash or a timeout
deletes nothing: the messages come back after the visibility timeout, and moto moves them
to the DLQ once they have been received ``maxReceiveCount`` times, as SQS does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from local_stack.account import REGION
from local_stack.aws import aws_env, local_client
from local_stack.lambda_runtime import (
    DEFAULT_HANDLER,
    ExecutionEnvironment,
    InvocationResult,
    sqs_event,
)
from local_stack.reserved_concurrency import ReservedConcurrency
from local_stack.running import Running

logger = logging.getLogger(__name__)

MAX_RECEIVE_BATCH = 10  # SQS's ReceiveMessage limit; more needs a batching window
RETRY_PAUSE_S = 1.0


class InvalidBatchResponse(ValueError):
    """A batchItemFailures response Lambda would reject, failing the whole batch."""


class InvalidMapping(ValueError):
    """A mapping Lambda refuses to create (CreateEventSourceMapping's InvalidParameterValue)."""


def messages_to_delete(message_ids: Sequence[str], response: Any) -> set[str]:
    """The messages a successful invocation is done with, under ReportBatchItemFailures.

    An empty or missing ``batchItemFailures`` (or no response at all) means every message
    succeeded. Raises :class:`InvalidBatchResponse` where Lambda fails the whole batch: an
    ``itemIdentifier`` that is missing, empty or not in the batch.
    """
    failures = response.get("batchItemFailures") if isinstance(response, Mapping) else None
    if not failures:
        return set(message_ids)
    if not isinstance(failures, list):
        raise InvalidBatchResponse(f"batchItemFailures is not a list: {failures!r}")
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not identifier or identifier not in message_ids:
            raise InvalidBatchResponse(f"invalid batch item failure {failure!r}")
        failed.add(identifier)
    return set(message_ids) - failed


@dataclass
class EsmStats:
    """Counters since start(); messages counted once per delivery."""

    invocations: int = 0
    messages_received: int = 0
    messages_deleted: int = 0
    messages_reported_failed: int = 0
    invocation_errors: int = 0  # the handler raised, or returned an invalid response
    timeouts: int = 0
    worker_crashes: int = 0


class EventSourceMapping(Running):
    """Poll ``queue_url`` and invoke ``handler`` with SQS batches in worker processes.

    ``env`` is the function's environment (``LocalStack.function_env`` plus local
    additions such as REQUESTS_CA_BUNDLE); the AWS endpoint, region and dummy credentials
    are added. A context manager: ``stop()`` lets in-flight invocations finish.
    """

    def __init__(
        self,
        queue_url: str,
        *,
        handler: str = DEFAULT_HANDLER,
        env: Mapping[str, str],
        batch_size: int = 10,
        concurrency: int = 1,
        function_timeout_s: float = 3.0,
        function_name: str = "FusionFunction",
        memory_size_mb: int = 128,
        endpoint_url: str,
        region: str = REGION,
        wait_time_s: int = 1,
        log_file: Path | None = None,
        reserved: ReservedConcurrency | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_RECEIVE_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_RECEIVE_BATCH} (no batching window)")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.queue_url = queue_url
        self.function_timeout_s = function_timeout_s
        self.batch_size = batch_size
        self.wait_time_s = wait_time_s
        self.region = region
        self._sqs: Any = local_client(
            "sqs",
            endpoint_url,
            region,
            # Each poller holds a connection through its long poll.
            config=Config(max_pool_connections=concurrency + 1),
        )
        self._environments = [
            ExecutionEnvironment(
                handler,
                env={**env, **aws_env(endpoint_url, region)},
                function_name=function_name,
                timeout_s=function_timeout_s,
                memory_size_mb=memory_size_mb,
                region=region,
                log_file=log_file,
            )
            for _ in range(concurrency)
        ]
        self._queue_arn = ""
        # Shared with the function's other invokers: a poller takes a batch only when an
        # execution environment is free under the function's reserved concurrency.
        self._reserved = reserved
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._stats = EsmStats()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start one poller per concurrent execution; workers start on their first batch.

        Raises :class:`InvalidMapping` when the queue's visibility timeout is shorter than
        the function's timeout, as Lambda does: its messages would come back while an
        invocation still holds them, and be delivered again (and head for the DLQ) while
        their first delivery is being worked on.
        """
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn", "VisibilityTimeout"]
        )["Attributes"]
        visibility = int(attributes["VisibilityTimeout"])
        if visibility < self.function_timeout_s:
            raise InvalidMapping(
                f"Queue visibility timeout: {visibility} seconds is less than Function timeout:"
                f" {self.function_timeout_s:g} seconds"
            )
        self._queue_arn = attributes["QueueArn"]
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._poll, args=(env,), name=f"esm-poller-{i}", daemon=True)
            for i, env in enumerate(self._environments)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop polling, wait for in-flight invocations, and shut the workers down."""
        self._stopping.set()
        for thread in self._threads:
            thread.join()
        self._threads = []

    def kill_workers(self) -> None:
        """Kill every execution environment, mid-invocation or not (fault injection): their
        batches fail as a whole, and new environments start cold on the next batches."""
        for environment in self._environments:
            environment.kill()

    def stats(self) -> EsmStats:
        """A snapshot of the counters."""
        with self._lock:
            return EsmStats(**vars(self._stats))

    def _poll(self, environment: ExecutionEnvironment) -> None:
        try:
            while not self._stopping.is_set():
                messages = self._receive()
                if not messages:
                    continue
                # A batch waits for a free slot (its messages return if it waits too long).
                if self._reserved is not None and not self._reserved.acquire(self._stopping):
                    continue
                try:
                    self._deliver(environment, messages)
                except Exception:  # a bug here must not silently cost a poller
                    logger.exception("delivering a batch failed; its messages will return")
                finally:
                    if self._reserved is not None:
                        self._reserved.release()
        finally:
            environment.close()

    def _receive(self) -> list[dict[str, Any]]:
        try:
            response = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.batch_size,
                WaitTimeSeconds=self.wait_time_s,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except (BotoCoreError, ClientError) as exc:
            # e.g. moto stopped before the mapping: keep trying, as Lambda's pollers do.
            logger.warning("ReceiveMessage failed on %s: %s", self.queue_url, exc)
            self._stopping.wait(RETRY_PAUSE_S)
            return []
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _deliver(self, environment: ExecutionEnvironment, messages: list[dict[str, Any]]) -> None:
        """Invoke on one batch, then delete what Lambda would delete."""
        invocation = environment.invoke(
            sqs_event(messages, queue_arn=self._queue_arn, region=self.region)
        )
        ids = [m["MessageId"] for m in messages]
        batch_failure, done = _settle(invocation, ids)
        with self._lock:
            self._stats.invocations += 1
            self._stats.messages_received += len(ids)
            if batch_failure is None:
                self._stats.messages_reported_failed += len(ids) - len(done)
            else:
                setattr(self._stats, batch_failure, getattr(self._stats, batch_failure) + 1)
        if done:
            self._delete([m for m in messages if m["MessageId"] in done])

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        try:
            response = self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except (BotoCoreError, ClientError):
            logger.exception("DeleteMessageBatch failed on %s", self.queue_url)
            return
        for failure in response.get("Failed", []):
            logger.warning("could not delete a message: %s", failure)
        with self._lock:
            self._stats.messages_deleted += len(response.get("Successful", []))


_BATCH_FAILURE_COUNTERS = {
    "error": "invocation_errors",
    "timeout": "timeouts",
    "crash": "worker_crashes",
}


def _settle(invocation: InvocationResult, ids: list[str]) -> tuple[str | None, set[str]]:
    """What Lambda makes of an invocation: the EsmStats counter of a whole-batch failure
    (None when the invocation succeeded) and the ids of the messages to delete."""
    if invocation.status == "success":
        try:
            return None, messages_to_delete(ids, invocation.response)
        except InvalidBatchResponse as exc:
            logger.warning("request %s: %s", invocation.request_id, exc)
            return "invocation_errors", set()
    error = invocation.error or {}
    logger.warning(
        "request %s %s: %s: %s",
        invocation.request_id,
        invocation.status,
        error.get("errorType"),
        error.get("errorMessage"),
    )
    return _BATCH_FAILURE_COUNTERS[invocation.status], set()
