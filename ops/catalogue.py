"""Add a template to the Pair API's catalogue, after checking it against the API's rules.

A catalogue template is sent as it is to every pair that picks it, so it must pass the
API's template rules strictly (no auto-fit): JPEG, PNG or BMP, at most 4 MB, each side
larger than 200 and smaller than 4096 px, decodable. Anything else is refused here, once,
instead of failing every pair that uses it. Works against AWS and the local stack
(AWS_ENDPOINT_URL).

    python -m ops.catalogue add --bucket INPUT_BUCKET [--prefix catalogue/] TEMPLATE_ID FILE

Exit status: 0 added, 2 refused (the API's code says why), 1 the file or the bucket could not
be used.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from ops.exits import AWS_ERRORS, Exit, aws_problem, fail
from pair_api.catalogue import entry_key
from pair_api.pair_request import TEMPLATE_ID
from portrait_fusion.core.errors import PreflightError
from portrait_fusion.images.preflight import prepare
from portrait_fusion.pairs.pairing import Role


@dataclass(frozen=True)
class AddedTemplate:
    """Where a template went, and what it is."""

    key: str
    width: int
    height: int


def add_template(s3: Any, bucket: str, prefix: str, template_id: str, data: bytes) -> AddedTemplate:
    """Check `data` against the API's template rules and store it as `template_id`.

    Raises `PreflightError` (with the API's code) for an image the API would refuse and
    `ValueError` for an id the Pair API would not accept. An existing entry is replaced.
    """
    if not TEMPLATE_ID.fullmatch(template_id):
        raise ValueError(
            f"template id {template_id!r} must be 1 to 64 lower-case letters, digits, '-' or '_'"
        )
    prepared = prepare(Role.TEMPLATE, data, auto_fit=False)
    info = prepared.info
    # the name carries what the catalogue shows: one listing reads it all
    key = entry_key(prefix, template_id, info.width, info.height, info.format.extension)
    for stale in _entries_named(s3, bucket, prefix, template_id):
        if stale != key:  # one entry per id, whatever its format was before
            s3.delete_object(Bucket=bucket, Key=stale)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=data,
        ContentType=info.format.content_type,
        Metadata={"width": str(info.width), "height": str(info.height)},
    )
    return AddedTemplate(key=key, width=info.width, height=info.height)


def _entries_named(s3: Any, bucket: str, prefix: str, template_id: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}{template_id}.")
    return [item["Key"] for item in listed.get("Contents", [])]


def main(argv: list[str] | None = None) -> int:
    """The command line; the exit status (`ops.exits`: 2 for a refused template, 1 for a file
    that cannot be read or a bucket that cannot be written)."""
    parser = argparse.ArgumentParser(prog="python -m ops.catalogue", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="check a template and add it to the catalogue")
    add.add_argument("--bucket", required=True, help="the stack's InputBucketName")
    add.add_argument("--prefix", default="catalogue/", help="CataloguePrefix; default catalogue/")
    add.add_argument("template_id", help="the name apps pick it by, e.g. beach")
    add.add_argument("file", type=Path, help="a JPEG, PNG or BMP file")
    args = parser.parse_args(argv)
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        return fail(parser.prog, f"cannot read {args.file}: {exc.strerror or exc}")
    try:
        added = add_template(boto3.client("s3"), args.bucket, args.prefix, args.template_id, data)
    except (PreflightError, ValueError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return Exit.REFUSED
    except AWS_ERRORS as exc:
        return fail(
            parser.prog, f"cannot add to s3://{args.bucket}/{args.prefix}: {aws_problem(exc)}"
        )
    print(f"added s3://{args.bucket}/{added.key} ({added.width}x{added.height})")
    return Exit.DONE


if __name__ == "__main__":
    sys.exit(main())
