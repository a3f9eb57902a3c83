"""S3's presigned POST checks, as the local stack applies them, on policies boto3 signs."""

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local_stack.post_policy import PostForm, refusal

SECRET = "testing"


def presigned(**conditions: Any) -> dict[str, str]:
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",  # never contacted: presigning is local
        aws_access_key_id="testing",
        aws_secret_access_key=SECRET,
        config=Config(signature_version="s3v4"),
    )
    post = s3.generate_presigned_post(
        Bucket="in",
        Key="incoming/p/target.jpg",
        Fields={"x-amz-meta-source-similarity": "0.5"},
        Conditions=[
            ["content-length-range", 1, 100],
            ["starts-with", "$Content-Type", "image/"],
            {"x-amz-meta-source-similarity": "0.5"},
        ],
        ExpiresIn=300,
    )
    fields: dict[str, str] = {**post["fields"], "Content-Type": "image/jpeg", **conditions}
    return {name.lower(): value for name, value in fields.items()}


def test_an_upload_within_the_policy_is_taken() -> None:
    assert refusal(PostForm("in", presigned(), 50), SECRET) is None


@pytest.mark.parametrize(
    ("changes", "size", "code"),
    [
        ({}, 101, "EntityTooLarge"),
        ({}, 0, "EntityTooSmall"),
        ({"content-type": "text/html"}, 50, "AccessDenied"),
        ({"x-amz-meta-source-similarity": "0.9"}, 50, "AccessDenied"),
        ({"x-amz-meta-correlation-id": "sneaked-in"}, 50, "AccessDenied"),
        ({"key": "incoming/p/template.jpg"}, 50, "AccessDenied"),
        ({"x-amz-signature": "0" * 64}, 50, "SignatureDoesNotMatch"),
    ],
)
def test_s3_refuses_what_the_policy_does_not_allow(
    changes: dict[str, str], size: int, code: str
) -> None:
    refused = refusal(PostForm("in", presigned(**changes), size), SECRET)
    assert refused is not None
    assert refused.code == code


def test_another_bucket_or_secret_is_refused() -> None:
    assert refusal(PostForm("other", presigned(), 50), SECRET) is not None
    assert refusal(PostForm("in", presigned(), 50), "another-secret") is not None


def test_an_expired_policy_is_refused() -> None:
    later = datetime.now(UTC) + timedelta(seconds=301)
    refused = refusal(PostForm("in", presigned(), 50), SECRET, now=later)
    assert refused is not None
    assert "expired" in refused.message
