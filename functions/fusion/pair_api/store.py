"""S3 access for the Pair API, behind a `Protocol` so the service is tested on a fake."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from pair_api.errors import StoreUnavailable
from pair_api.upload_policy import UploadPolicy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"NoSuchKey", "404", "NotFound"}


@dataclass(frozen=True)
class StoredFile:
    """An object's size, type and user metadata (from a HEAD)."""

    key: str
    size: int
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)


class PairStore(Protocol):
    """What the Pair API needs from object storage."""

    def read_json(self, bucket: str, key: str) -> dict[str, Any] | None:
        """A JSON object, or None if there is none."""

    def write_json(self, bucket: str, key: str, document: dict[str, Any]) -> None:
        """Store a JSON object."""

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        """Every key under `prefix`."""

    def describe(self, bucket: str, key: str) -> StoredFile | None:
        """An object's size, type and metadata, or None if it is not there."""

    def copy(self, bucket: str, source_key: str, target_key: str, metadata: dict[str, str]) -> None:
        """Copy an object within `bucket` server-side, replacing its user metadata."""

    def presign_post(
        self, bucket: str, policy: UploadPolicy, expires_seconds: int
    ) -> dict[str, Any]:
        """`{"url", "fields"}` of a presigned POST that S3 checks against `policy`."""

    def presign_get(
        self, bucket: str, key: str, expires_seconds: int, version_id: str | None = None
    ) -> str:
        """A presigned GET URL, of `version_id` when one is given."""


class S3PairStore:
    """`PairStore` on a boto3 S3 client; every failure becomes `StoreUnavailable`.

    `upload_client` signs the presigned POSTs when uploads go to another endpoint than the
    other calls (the local stack checks them in front of its S3); by default, `client` does.
    """

    def __init__(self, client: S3Client, upload_client: S3Client | None = None) -> None:
        self._s3 = client
        self._uploads = upload_client or client

    def read_json(self, bucket: str, key: str) -> dict[str, Any] | None:
        with _reading(bucket, key) as found:
            found.value = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if found.value is None:
            return None
        document: dict[str, Any] = json.loads(found.value)
        return document

    def write_json(self, bucket: str, key: str, document: dict[str, Any]) -> None:
        try:
            self._s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=json.dumps(document).encode(),
                ContentType="application/json",
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(f"cannot write s3://{bucket}/{key}", exc) from exc

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        try:
            pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            return [item["Key"] for page in pages for item in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(f"cannot list s3://{bucket}/{prefix}", exc) from exc

    def describe(self, bucket: str, key: str) -> StoredFile | None:
        with _reading(bucket, key) as found:
            found.value = self._s3.head_object(Bucket=bucket, Key=key)
        head = found.value
        if head is None:
            return None
        return StoredFile(
            key=key,
            size=head["ContentLength"],
            content_type=head.get("ContentType", ""),
            metadata=dict(head.get("Metadata", {})),
        )

    def copy(self, bucket: str, source_key: str, target_key: str, metadata: dict[str, str]) -> None:
        try:
            self._s3.copy_object(
                Bucket=bucket,
                Key=target_key,
                CopySource={"Bucket": bucket, "Key": source_key},
                Metadata=metadata,
                MetadataDirective="REPLACE",
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(f"cannot copy s3://{bucket}/{source_key}", exc) from exc

    def presign_post(
        self, bucket: str, policy: UploadPolicy, expires_seconds: int
    ) -> dict[str, Any]:
        post: dict[str, Any] = self._uploads.generate_presigned_post(
            Bucket=bucket,
            Key=policy.key,
            Fields=dict(policy.fields),
            Conditions=list(policy.conditions),
            ExpiresIn=expires_seconds,
        )
        return {"url": post["url"], "fields": post["fields"]}

    def presign_get(
        self, bucket: str, key: str, expires_seconds: int, version_id: str | None = None
    ) -> str:
        params = {"Bucket": bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        url: str = self._s3.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_seconds
        )
        return url


@dataclass
class _Found:
    value: Any = None


@contextlib.contextmanager
def _reading(bucket: str, key: str) -> Iterator[_Found]:
    """Read inside the block; a missing object leaves `value` None, other failures raise."""
    found = _Found()
    try:
        yield found
    except ClientError as exc:
        if _code(exc) not in _MISSING:
            raise _unavailable(f"cannot read s3://{bucket}/{key}", exc) from exc
    except BotoCoreError as exc:
        raise _unavailable(f"cannot read s3://{bucket}/{key}", exc) from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unavailable(what: str, exc: Exception) -> StoreUnavailable:
    detail = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    return StoreUnavailable(f"{what}: {detail}")
