"""Helpers shared by the integration and end-to-end tiers: upload pairs, read results."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_plus

from botocore.exceptions import ClientError

from local_stack.aws import LocalStack, aws_env, provision
from tests.aws_endpoint import tier_names

API_KEY = "pf-test-key-0123456789abcdef"
TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"


def unique_pair(label: str = "pair") -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def provision_tier(
    endpoint_url: str,
    names_prefix: str,
    *,
    visibility_timeout: int | None = None,
    **overrides: str,
) -> LocalStack:
    """The template's resources for one test tier, under names of its own (moto keeps its
    state per process; on a shared endpoint the names are made unique per process), with
    the tests' API key in the secret."""
    return provision(
        endpoint_url,
        TEMPLATE,
        api_key=API_KEY,
        names_prefix=tier_names(names_prefix),
        visibility_timeout=visibility_timeout,
        overrides=overrides or None,
    )


def s3_notification(stack: LocalStack, key: str) -> dict[str, Any]:
    """The S3 notification of an upload to the input bucket, as S3 sends it (``key`` needs
    no encoding: letters, digits, `-`, `.` and `/`)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "awsRegion": stack.region,
                "s3": {"bucket": {"name": stack.input_bucket}, "object": {"key": key}},
            }
        ]
    }


def function_environment(
    stack: LocalStack, api_url: str, ca_bundle: str | None, **overrides: str
) -> dict[str, str]:
    """The function's environment on the local stack: the template's, pointed at local parts."""
    env = {
        **stack.function_env,
        **aws_env(stack.endpoint_url),
        "FUSION_API_URL": api_url,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "PortraitFusion",
        # Most tests upload the same few portraits under many pair ids, and each expects its
        # own API call; the tests of re-use switch it back on.
        "REUSE_IDENTICAL_RESULTS": "false",
    }
    if ca_bundle:
        env["REQUESTS_CA_BUNDLE"] = ca_bundle
    else:
        env["ALLOW_INSECURE_API_URL"] = "true"
    env.update(overrides)
    return env


def read_document(s3: Any, bucket: str, pair_id: str) -> dict[str, Any] | None:
    """A pair's result.json from the output bucket, or None while there is none."""
    try:
        body = s3.get_object(Bucket=bucket, Key=f"results/{pair_id}/result.json")["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise
    document: dict[str, Any] = json.loads(body)
    return document


def notified_keys(body: str) -> set[str]:
    """The object keys an S3 notification (an SQS message's body) may name: each record's key
    as sent and URL-decoded (S3 encodes keys, moto sends some raw); none for `s3:TestEvent`."""
    try:
        records = json.loads(body).get("Records", [])
    except (ValueError, AttributeError):
        return set()
    sent = [r["s3"]["object"]["key"] for r in records if isinstance(r, dict) and "s3" in r]
    return {form for key in sent for form in (key, unquote_plus(key), unquote(key))}


@dataclass
class Buckets:
    """Upload halves to the input bucket and read what the function wrote."""

    stack: LocalStack
    s3: Any = field(init=False)
    uploaded: list[str] = field(init=False, default_factory=list)
    """Keys uploaded under the input prefix whose notifications have not been taken yet."""

    def __post_init__(self) -> None:
        self.s3 = self.stack.client("s3")

    def take_uploads(self) -> list[str]:
        """The keys uploaded under the input prefix since the last call: each has an S3
        notification on its way to the queue."""
        taken, self.uploaded = self.uploaded, []
        return taken

    def upload(
        self,
        pair_id: str,
        role: str,
        data: bytes,
        ext: str = "jpg",
        metadata: dict[str, str] | None = None,
        key: str | None = None,
    ) -> str:
        key = key or f"incoming/{pair_id}/{role}.{ext}"
        self.s3.put_object(
            Bucket=self.stack.input_bucket, Key=key, Body=data, Metadata=metadata or {}
        )
        if key.startswith(self.stack.function_env.get("INPUT_PREFIX", "incoming/")):
            self.uploaded.append(key)
        return key

    def document(self, pair_id: str) -> dict[str, Any] | None:
        return read_document(self.s3, self.stack.output_bucket, pair_id)

    def wait_for_document(self, pair_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            document = self.document(pair_id)
            if document is not None:
                return document
            time.sleep(0.2)
        raise AssertionError(f"no result.json for {pair_id} within {timeout_s} s")

    def result_image(self, document: dict[str, Any]) -> tuple[bytes, str]:
        response = self.s3.get_object(
            Bucket=document["result"]["bucket"], Key=document["result"]["key"]
        )
        return response["Body"].read(), response["ContentType"]

    def output_keys(self, pair_id: str) -> list[str]:
        listing = self.s3.list_objects_v2(
            Bucket=self.stack.output_bucket, Prefix=f"results/{pair_id}/"
        )
        return sorted(item["Key"] for item in listing.get("Contents", []))
