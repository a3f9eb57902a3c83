"""Erase one pair on request: every version of its inputs, its outputs and its records.

    python -m ops.erase <pair-id> [--stack NAME]      (or: make erase PAIR=<pair-id>)

Without --stack it reads the function's own environment variables (INPUT_BUCKET,
INPUT_PREFIX, OUTPUT_BUCKET, OUTPUT_PREFIX, IDEMPOTENCY_TABLE, PAIR_PATTERN, and
AWS_ENDPOINT_URL for the local stack); with --stack it reads a deployed stack's outputs and
parameters. It prints every object version and record it removed; a second run finds
nothing and says so. Records are found by key and by one Query of the table's `by-pair`
index, never a scan, so an erasure costs the same whatever the table holds. CloudWatch log
lines (pair ids and keys, never images) are not touched: they expire with the log group's
retention (LogRetentionDays).
"""

from __future__ import annotations

import argparse
import os
import sys

import boto3

from portrait_fusion.aws.erasure import PairLocations, erase_pair


def main(argv: list[str] | None = None) -> int:
    """The command line: erase one pair, print what was removed."""
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
    report = erase_pair(
        args.pair_id, where, s3=boto3.client("s3"), dynamodb=boto3.client("dynamodb")
    )
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
