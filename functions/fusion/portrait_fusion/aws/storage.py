"""S3 access: list a pair's halves, read inputs, write results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from portrait_fusion.core.errors import PairingError, Stage, StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchVersion"}


@dataclass(frozen=True)
class ObjectRef:
    """Where an object lives."""

    bucket: str
    key: str
    version_id: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class ObjectHead:
    """An object's identity and metadata, from the response headers of the GET that read it."""

    ref: ObjectRef
    etag: str
    size: int
    version_id: str | None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredObject:
    """An input as one GET returned it; `data` is None when it was too large to download."""

    head: ObjectHead
    data: bytes | None


class S3Storage:
    """A thin adapter over an S3 client, raising the function's own errors."""

    def __init__(self, client_factory: Callable[[], S3Client]) -> None:
        self._client_factory = client_factory

    @property
    def _client(self) -> S3Client:
        return self._client_factory()

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        """Every key in `bucket` that starts with `prefix`."""
        keys: list[str] = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix
            )
            for page in pages:
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise _storage_error(f"cannot list s3://{bucket}/{prefix}", exc, Stage.PAIRING) from exc
        return keys

    def exists(self, ref: ObjectRef) -> bool:
        """Whether the object (at `ref.version_id`, when given) is in its bucket.

        The key is looked up by listing it as a prefix: a GET or HEAD of a missing key is a
        403, not a 404, for a role whose s3:ListBucket is limited to a prefix.
        """
        try:
            listed = self._client.list_objects_v2(Bucket=ref.bucket, Prefix=ref.key, MaxKeys=1)
            # The key itself sorts first among the keys it prefixes.
            if [item["Key"] for item in listed.get("Contents", [])] != [ref.key]:
                return False
            if ref.version_id:
                self._client.head_object(Bucket=ref.bucket, Key=ref.key, VersionId=ref.version_id)
        except ClientError as exc:
            code = _error_code(exc)
            # S3 answers 400 to a version id it cannot parse: no such version either.
            if code in _MISSING or code in {"400", "InvalidArgument"}:
                return False
            raise _storage_error(f"cannot look up {ref.uri}", exc, Stage.PAIRING) from exc
        except BotoCoreError as exc:
            raise _storage_error(f"cannot look up {ref.uri}", exc, Stage.PAIRING) from exc
        return True

    def fetch(self, ref: ObjectRef, max_bytes: int) -> StoredObject:
        """An input's size, ETag, version, user metadata and (within `max_bytes`) its bytes.

        One GET, so the bytes are exactly the version the ETag names, and S3 is asked once,
        not twice (HEAD, then GET). An object larger than `max_bytes` is not downloaded.
        Raises `INPUT_NOT_FOUND` if it is gone.
        """
        try:
            if ref.version_id:
                response = self._client.get_object(
                    Bucket=ref.bucket, Key=ref.key, VersionId=ref.version_id
                )
            else:
                response = self._client.get_object(Bucket=ref.bucket, Key=ref.key)
            head = ObjectHead(
                ref=ref,
                etag=response["ETag"].strip('"'),
                size=response["ContentLength"],
                version_id=response.get("VersionId") or ref.version_id,
                metadata=dict(response.get("Metadata", {})),
            )
            body = response["Body"]
            if head.size > max_bytes:
                body.close()
                return StoredObject(head, None)
            return StoredObject(head, body.read())
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                raise _not_found(ref) from exc
            raise _storage_error(f"cannot read {ref.uri}", exc, Stage.PAIRING) from exc
        except BotoCoreError as exc:
            raise _storage_error(f"cannot read {ref.uri}", exc, Stage.PAIRING) from exc

    def write_if_absent(
        self, bucket: str, key: str, body: bytes, content_type: str
    ) -> ObjectRef | None:
        """Store an object only where none exists yet (S3's If-None-Match): where it went, or
        None if one did, or if another write to the same key was under way (409: that one is
        the outcome)."""
        try:
            response = self._client.put_object(
                Bucket=bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*"
            )
        except ClientError as exc:
            if _error_code(exc) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                return None
            raise _storage_error(f"cannot write s3://{bucket}/{key}", exc, Stage.OUTPUT) from exc
        except BotoCoreError as exc:
            raise _storage_error(f"cannot write s3://{bucket}/{key}", exc, Stage.OUTPUT) from exc
        return ObjectRef(bucket, key, response.get("VersionId"))

    def write(self, bucket: str, key: str, body: bytes, content_type: str) -> ObjectRef:
        """Store one output object; where it went, with the version S3 gave it (a versioned
        bucket keeps every version, so the reference names these bytes for good)."""
        try:
            response = self._client.put_object(
                Bucket=bucket, Key=key, Body=body, ContentType=content_type
            )
        except (ClientError, BotoCoreError) as exc:
            raise _storage_error(f"cannot write s3://{bucket}/{key}", exc, Stage.OUTPUT) from exc
        return ObjectRef(bucket, key, response.get("VersionId"))


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _not_found(ref: ObjectRef) -> PairingError:
    return PairingError(
        f"{ref.uri} is not in the bucket (deleted, or never uploaded under this key)",
        code="INPUT_NOT_FOUND",
    )


def aws_error_detail(exc: Exception) -> str:
    """What an AWS call's failure says, for an error message: the service's error code, or
    the exception's type when no answer arrived (never its text, which may quote a request)."""
    return _error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__


def _storage_error(what: str, exc: Exception, stage: Stage) -> StorageError:
    error = StorageError(f"{what}: {aws_error_detail(exc)}", code="STORAGE_ERROR")
    error.stage = stage
    return error


def storage_error(what: str, exc: Exception, stage: Stage) -> StorageError:
    """A `StorageError` naming what failed and S3's error code, for other S3 adapters."""
    return _storage_error(what, exc, stage)
