"""The fusion queue as Lambda's event source mapping reads it, for tests that pick which
notifications the handler gets and when: long polls until the wanted messages are in (or a
deadline passes), as a client of SQS must, since S3 may deliver a notification a little after
the upload returns."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from local_stack.aws import LocalStack
from local_stack.esm import messages_to_delete
from local_stack.lambda_runtime import sqs_event

Message = dict[str, Any]


def notified_key(message: Message) -> str:
    """The key an S3 notification names (form-encoded in the message, as S3 writes it)."""
    record = json.loads(message["Body"])["Records"][0]
    return unquote_plus(str(record["s3"]["object"]["key"]))


@dataclass
class Queue:
    """Receives chosen notifications and hands them to the handler as one SQS batch."""

    stack: LocalStack
    sqs: Any
    function: Any  # tests.integration.conftest.Lambda

    def receive_where(
        self, wanted: Callable[[Message], bool], count: int, timeout_s: float = 30.0
    ) -> list[Message]:
        """`count` messages that `wanted` takes. The others are held until then and made
        visible again at once: received once each, not once per poll (each receive counts
        towards the DLQ's `maxReceiveCount`)."""
        got: list[Message] = []
        others: list[Message] = []
        deadline = time.monotonic() + timeout_s
        try:
            while len(got) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(got)} of {count} wanted notifications in {timeout_s} s"
                answer = self.sqs.receive_message(
                    QueueUrl=self.stack.queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=max(1, min(20, int(left))),
                    VisibilityTimeout=60,  # longer than the handler takes with them
                    AttributeNames=["All"],
                )
                for message in answer.get("Messages", []):
                    taken = len(got) < count and wanted(message)
                    (got if taken else others).append(message)
        finally:
            for message in others:
                self.sqs.change_message_visibility(
                    QueueUrl=self.stack.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
        return got

    def receive(self, keys: Collection[str], timeout_s: float = 30.0) -> list[Message]:
        """A notification for each of `keys`."""
        missing = set(keys)

        def one_per_key(message: Message) -> bool:
            key = notified_key(message)
            if key not in missing:
                return False
            missing.discard(key)
            return True

        return self.receive_where(one_per_key, len(missing), timeout_s)

    def hand(self, messages: list[Message]) -> dict[str, Any]:
        """`messages` as one SQS batch to the handler; the messages it is done with are
        deleted, the others handed back (as the handler set their visibility). Its answer."""
        response: dict[str, Any] = self.function.invoke(
            sqs_event(messages, queue_arn=self.stack.queue_arn)
        )
        done = messages_to_delete([m["MessageId"] for m in messages], response)
        for message in messages:
            if message["MessageId"] in done:
                self.sqs.delete_message(
                    QueueUrl=self.stack.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return response

    def deliver(self, keys: Collection[str]) -> list[Message]:
        """The notifications for `keys` to the handler, which must be done with them all.
        Returns the messages delivered."""
        messages = self.receive(keys)
        assert self.hand(messages) == {"batchItemFailures": []}
        return messages

    def send_again(self, body: str) -> None:
        """A late duplicate of a notification (S3 delivers at least once)."""
        self.sqs.send_message(QueueUrl=self.stack.queue_url, MessageBody=body)


def the_tests_deliver(configure: Callable[..., None]) -> Callable[..., None]:
    """`configure` for tests that deliver each notification themselves, as the event source
    mapping would, and count on being the queue's one reader: whatever else they set, the
    handler pulls nothing of its own (PULL_FROM_QUEUE off). Applied once at once."""

    def apply(**overrides: str) -> None:
        configure(**{"PULL_FROM_QUEUE": "false", **overrides})

    apply()
    return apply
