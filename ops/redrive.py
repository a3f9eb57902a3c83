"""Move messages from the dead-letter queue back to the fusion queue.

Use it once the cause is fixed (credits topped up, key corrected): every pair parked in the
DLQ is delivered again and completes. Works against AWS and against the local stack
(AWS_ENDPOINT_URL). On AWS, `aws sqs start-message-move-task --source-arn <DLQ ARN>` does the
same server-side; this tool exists for the local stack, where that API is not emulated.

    python -m ops.redrive --queue-url URL --dlq-url URL [--limit N]
    (or FUSION_QUEUE_URL / FUSION_DLQ_URL in the environment, as `make stack` prints
    them; `make redrive`)
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import boto3

from ops.exits import AWS_ERRORS, Exit, aws_problem, fail


def redrive(sqs: Any, dlq_url: str, queue_url: str, limit: int | None = None) -> int:
    """Move up to `limit` messages (all by default) from `dlq_url` to `queue_url`.

    Each message is sent before it is deleted, so a crash can duplicate a message but never
    lose one (the function is idempotent). Returns how many messages moved.
    """
    moved = 0
    while limit is None or moved < limit:
        batch = min(10, limit - moved) if limit is not None else 10
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=batch,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=message["Body"],
                MessageAttributes=message.get("MessageAttributes", {}),
            )
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def main(argv: list[str] | None = None) -> int:
    """The command line: print how many messages moved."""
    parser = argparse.ArgumentParser(
        prog="python -m ops.redrive",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--queue-url", default=os.environ.get("FUSION_QUEUE_URL"))
    parser.add_argument("--dlq-url", default=os.environ.get("FUSION_DLQ_URL"))
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    if not args.queue_url or not args.dlq_url:
        parser.error("give --queue-url and --dlq-url (or FUSION_QUEUE_URL and FUSION_DLQ_URL)")
    try:
        moved = redrive(boto3.client("sqs"), args.dlq_url, args.queue_url, args.limit)
    except AWS_ERRORS as exc:
        return fail(parser.prog, f"cannot move messages: {aws_problem(exc)}")
    print(f"moved {moved} message(s) from the DLQ back to {args.queue_url}")
    return Exit.DONE


if __name__ == "__main__":
    sys.exit(main())
