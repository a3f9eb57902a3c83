"""Erase one pair on request: every version of its inputs, its outputs and its records.

    python -m ops.erase <pair-id> [--stack NAME]      (or: make erase PAIR=<pair-id>)

Without --stack it reads the function's own environment variables (INPUT_BUCKET,
INPUT_PREFIX, OUTPUT_BUCKET, OUTPUT_PREFIX, IDEMPOTENCY_TABLE, PAIR_PATTERN, and
AWS_ENDPOINT_URL for the local stack); with --stack it reads a deployed stack's outputs and
parameters. It prints every object version and record it removed. Records are found by key
and by one Query of the table's `by-pair` index, never a scan, so an erasure costs the same
whatever the table holds. Exit status: 0 erased, 3 nothing found (erased already, or a
mistyped id), 1 the stack or AWS could not be used, 2 a wrong command line. CloudWatch log
lines (pair ids and keys, never images) are not touched: they expire with the log group's
retention (LogRetentionDays).
"""

from __future__ import annotations

import argparse
import os
import sys

import boto3

from ops.exits import AWS_ERRORS, Exit, aws_problem, fail
from portrait_fusion.aws.erasure import PairLocations, erase_pair


def main(argv: list[str] | None = None) -> int:
    """The command line: erase one pair, print what was removed; the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m ops.erase",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("pair_id", help="the pair's id, as in its folder and result document")
    parser.add_argument("--stack", help="read locations from this deployed stack's outputs")
    args = parser.parse_args(argv)
    if not args.pair_id.strip():
        parser.error("the pair id is empty")
    try:
        where = (
            PairLocations.from_stack(boto3.client("cloudformation"), args.stack)
            if args.stack
            else PairLocations.from_env(os.environ)
        )
    except ValueError as exc:
        parser.error(str(exc))
    except AWS_ERRORS as exc:
        return fail(parser.prog, f"cannot read stack {args.stack!r}: {aws_problem(exc)}")
    try:
        report = erase_pair(
            args.pair_id, where, s3=boto3.client("s3"), dynamodb=boto3.client("dynamodb")
        )
    except AWS_ERRORS as exc:
        return fail(parser.prog, f"cannot erase pair {args.pair_id!r}: {aws_problem(exc)}")
    if not report.removed_anything:
        # Erasing twice is harmless, but a mistyped id must not look like a done erasure.
        print(
            f"pair {args.pair_id!r}: nothing left to erase: it was erased already, or no pair "
            f"{args.pair_id!r} is in s3://{where.input_bucket}/{where.input_prefix} "
            "(check the id)",
            file=sys.stderr,
        )
        return Exit.NOTHING_FOUND
    print("\n".join(report.lines()))
    return Exit.DONE


if __name__ == "__main__":
    sys.exit(main())
