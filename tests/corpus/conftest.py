"""The corpus tier: the handler, in this process, on moto's server and the HTTPS emulator,
fed real-world odd inputs. It shares the integration tier's fixtures, on resources of its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from local_stack.aws import LocalStack, MotoServer
from local_stack.emulator import FusionEmulator
from portrait_fusion.pairs.pairing import Role
from tests.harness import Buckets, provision_tier, unique_pair
from tests.integration import conftest as integration
from tests.integration.conftest import Lambda

# The integration tier's fixtures, found by name; `stack` below gives them our resources.
buckets = integration.buckets
configure = integration.configure
function = integration.function
healthy_emulator = integration.healthy_emulator
sqs = integration.sqs

# What the API refuses a file for, as opposed to what it finds (or not) in the picture: a
# pair the preflight let through must never come back with one of these.
FILE_RULE_CODES = frozenset(
    {
        "UNSUPPORTED_FILE_TYPES",
        "FILE_SIZE_EXCEEDS_LIMIT",
        "FILE_RESOLUTION_EXCEEDS_LIMITS",
        "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE",
        "FILE_DECODING_FAILURE",
        "ERROR_LOW_RESOLUTION",
    }
)
_PAIRS_PER_BATCH = 20


@pytest.fixture(scope="session")
def stack(moto: MotoServer) -> LocalStack:
    return provision_tier(moto.endpoint_url, "corpus", visibility_timeout=1)


@dataclass(frozen=True)
class Upload:
    """One pair to send: its two halves and their file extensions."""

    label: str
    target: bytes
    template: bytes
    target_ext: str = "jpg"
    template_ext: str = "jpg"
    role: Role = Role.TARGET
    """The half under test (the other is a plain good portrait)."""


@dataclass(frozen=True)
class Ran:
    """A pair after the function has handled it."""

    upload: Upload
    pair_id: str
    document: dict[str, Any] | None


@pytest.fixture
def run_pairs(
    function: Lambda, buckets: Buckets, emulator: FusionEmulator, assert_valid_document: Any
) -> Callable[[list[Upload]], list[Ran]]:
    """Upload pairs, hand their notifications to the handler in batches, return each pair's
    document; every batch must be consumed (nothing handed back, nothing for the DLQ)."""

    def run(uploads: list[Upload]) -> list[Ran]:
        ran = []
        for start in range(0, len(uploads), _PAIRS_PER_BATCH):
            chunk = [(u, unique_pair("corpus")) for u in uploads[start : start + _PAIRS_PER_BATCH]]
            for upload, pair_id in chunk:
                buckets.upload(pair_id, "target", upload.target, upload.target_ext)
                buckets.upload(pair_id, "template", upload.template, upload.template_ext)
            response = function.deliver()
            assert response["batchItemFailures"] == [], [u.label for u, _ in chunk]
            for upload, pair_id in chunk:
                document = buckets.document(pair_id)
                if document is not None:
                    assert_valid_document(document)
                ran.append(Ran(upload, pair_id, document))
        return ran

    return run


def outcome(ran: Ran) -> str:
    """ "succeeded", or the failed document's stage and code; "no document" otherwise."""
    document = ran.document
    if document is None:
        return "no document"
    if document["status"] == "succeeded":
        return "succeeded"
    return f"{document['error']['stage']}: {document['error']['code']}"
