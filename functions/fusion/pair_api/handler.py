"""The Pair API's Lambda handler: Powertools' logger around the HTTP API resolver.

Settings and the S3 client are built once per execution environment, on first use; a bad
environment variable fails that request with a 500 and a log line naming the variable.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from pair_api.routes import build_resolver
from pair_api.service import PairService, build_service
from pair_api.settings import PairApiSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="portrait-fusion-pair-api")


@cache
def service() -> PairService:
    """The service of this execution environment."""
    import boto3
    from botocore.config import Config

    # SigV4 everywhere: presigned URLs for KMS- or SSE-protected objects need it.
    client = boto3.client("s3", config=Config(signature_version="s3v4"))
    return build_service(PairApiSettings.from_env(os.environ), client, boto3.client("dynamodb"))


_resolver = build_resolver(service)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Entry point for every route of the Pair API."""
    return _resolver.resolve(event, context)
