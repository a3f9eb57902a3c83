"""The naive baseline: the handler most people write first. Benchmark only, never shipped.

Same job as the real function on the same events (an SQS batch of S3 notifications): find
the partner by listing, `get_object` both halves one after the other, `requests.post(files=)`
on a new connection each time, `json()`, `b64decode`, `put_object` the result and a small
JSON. Clients are created at import, as AWS's examples do; the API key is read from Secrets
Manager once and kept. No preflight, no idempotency, no retries: that is the point of it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import boto3
import requests

s3 = boto3.client("s3")
secrets = boto3.client("secretsmanager")

PAIR_PATTERN = re.compile(
    os.environ.get("PAIR_PATTERN")
    or r"^incoming/(?P<pair>.+)/(?i:(?P<role>target|template))\.(?i:jpe?g|png|bmp)$"
)
OUTPUT_BUCKET = os.environ["OUTPUT_BUCKET"]
OUTPUT_PREFIX = os.environ.get("OUTPUT_PREFIX", "results/")
API_URL = os.environ["FUSION_API_URL"]
_api_key: str | None = None


def api_key() -> str:
    """The API key from Secrets Manager, read on first use."""
    global _api_key  # noqa: PLW0603 - the usual warm-start cache
    if _api_key is None:
        secret = secrets.get_secret_value(SecretId=os.environ["API_KEY_SECRET_ID"])
        _api_key = json.loads(secret["SecretString"])["api_key"]
    return _api_key


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Handle an SQS batch of S3 notifications; report the messages that failed."""
    failures = []
    for record in event["Records"]:
        try:
            for notification in json.loads(record["body"]).get("Records", []):
                bucket = notification["s3"]["bucket"]["name"]
                key = urllib.parse.unquote_plus(notification["s3"]["object"]["key"])
                process(bucket, key)
        except Exception as exc:
            print(f"failed: {exc!r}")
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def process(bucket: str, key: str) -> None:
    """Merge the pair `key` belongs to, if its partner is there."""
    match = PAIR_PATTERN.match(key)
    if match is None:
        return
    started = datetime.now(UTC).isoformat()
    pair_id = match["pair"]
    prefix = key[: match.start("role")]
    halves = {}
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        other = PAIR_PATTERN.match(item["Key"])
        if other is not None and other["pair"] == pair_id:
            halves[other["role"].lower()] = item["Key"]
    if len(halves) < 2:
        return
    target = s3.get_object(Bucket=bucket, Key=halves["target"])["Body"].read()
    template = s3.get_object(Bucket=bucket, Key=halves["template"])["Body"].read()
    response = requests.post(
        API_URL,
        headers={"ailabapi-api-key": api_key()},
        files={
            "image_target": (halves["target"].rsplit("/", 1)[-1], target),
            "image_template": (halves["template"].rsplit("/", 1)[-1], template),
        },
        timeout=30,
    )
    body = response.json()
    if response.status_code != 200 or body.get("error_code"):
        raise RuntimeError(f"API error {response.status_code}: {body.get('error_detail')}")
    image = base64.b64decode(body["data"]["image"])
    result_key = f"{OUTPUT_PREFIX}{pair_id}/result.jpg"
    s3.put_object(Bucket=OUTPUT_BUCKET, Key=result_key, Body=image, ContentType="image/jpeg")
    document = {
        "status": "succeeded",
        "pair_id": pair_id,
        "result": {"bucket": OUTPUT_BUCKET, "key": result_key, "size": len(image)},
        "started_at": started,
        "finished_at": datetime.now(UTC).isoformat(),
    }
    s3.put_object(
        Bucket=OUTPUT_BUCKET,
        Key=f"{OUTPUT_PREFIX}{pair_id}/result.json",
        Body=json.dumps(document),
        ContentType="application/json",
    )
