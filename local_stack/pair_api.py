"""The Pair API of the local stack: the real routes behind the local HTTP server.

The catalogue is seeded with the bundled portraits through the same check as
``python -m ops.catalogue add``, so the playground has templates to offer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from botocore.config import Config

from local_stack.aws import DUMMY_CREDENTIALS, LocalStack, local_client
from local_stack.pair_api_server import PairApiServer
from local_stack.post_policy import PostPolicyGate
from ops.catalogue import add_template
from pair_api.routes import build_resolver
from pair_api.service import build_service
from pair_api.settings import PairApiSettings

PORTRAITS = Path(__file__).resolve().parent / "portraits"
SEED_TEMPLATES = {"astronaut": "astronaut.png", "grace-hopper": "grace_hopper.jpg"}


def local_s3(endpoint_url: str) -> Any:
    """An S3 client for the local stack that signs as the deployed function does (SigV4)."""
    return local_client("s3", endpoint_url, config=Config(signature_version="s3v4"))


def seed_catalogue(stack: LocalStack) -> list[str]:
    """Add the bundled portraits to the catalogue; their template ids."""
    settings = PairApiSettings.from_env(stack.pair_api_env)
    s3 = local_s3(stack.endpoint_url)
    for template_id, name in SEED_TEMPLATES.items():
        data = (PORTRAITS / name).read_bytes()
        add_template(s3, settings.input_bucket, settings.catalogue_prefix, template_id, data)
    return list(SEED_TEMPLATES)


@contextlib.contextmanager
def local_pair_routes(stack: LocalStack) -> Iterator[APIGatewayHttpResolver]:
    """The Pair API's routes over ``stack`` with the template's environment, until exit.

    Their presigned POSTs go through a :class:`~local_stack.post_policy.PostPolicyGate`, so
    uploads are refused as S3 would refuse them.
    """
    secret = DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    with PostPolicyGate(stack.endpoint_url, secret_key=secret) as gate:
        service = build_service(
            PairApiSettings.from_env(stack.pair_api_env),
            local_s3(stack.endpoint_url),
            local_client("dynamodb", stack.endpoint_url, stack.region),
            upload_s3=local_s3(gate.url),
        )
        yield build_resolver(lambda: service)


@contextlib.contextmanager
def local_pair_api(stack: LocalStack, *, port: int = 0) -> Iterator[PairApiServer]:
    """The Pair API over ``stack`` (:func:`local_pair_routes`) with the template's routes and
    throttling, serving until exit; its :attr:`~PairApiServer.issuer` signs the tokens it
    accepts."""
    with (
        local_pair_routes(stack) as resolver,
        PairApiServer(resolver.resolve, http_api=stack.pair_api_gateway, port=port) as server,
    ):
        yield server
