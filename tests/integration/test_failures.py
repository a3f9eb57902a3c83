"""Every preflight rule and every class of API failure, through the handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from tests import images
from tests.harness import API_KEY, Buckets, unique_pair

PREFLIGHT: list[tuple[str, Callable[[], bytes], str]] = [
    ("not an image", lambda: b"plain text, not a portrait", "UNSUPPORTED_FILE_TYPES"),
    ("webp", images.webp, "UNSUPPORTED_FILE_TYPES"),
    (
        "over 4 MB",
        lambda: images.padded_to(images.as_jpeg(), 4 * 1024 * 1024 + 1),
        "FILE_SIZE_EXCEEDS_LIMIT",
    ),
    ("too small", lambda: images.as_jpeg(size=(100, 100)), "ERROR_LOW_RESOLUTION"),
    ("too large", lambda: images.as_jpeg(size=(4096, 600)), "FILE_RESOLUTION_EXCEEDS_LIMITS"),
    ("grayscale", images.grayscale_l, "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE"),
    ("undecodable", images.truncated_jpeg, "FILE_DECODING_FAILURE"),
]


def run_pair(
    function: Any,
    buckets: Buckets,
    target: bytes,
    template: bytes,
    metadata: dict[str, str] | None = None,
) -> tuple[str, dict[str, Any]]:
    pair_id = unique_pair()
    buckets.upload(pair_id, "target", target, metadata=metadata)
    buckets.upload(pair_id, "template", template, "png")
    response = function.deliver()
    return pair_id, response


@pytest.mark.parametrize(
    ("make", "code"), [p[1:] for p in PREFLIGHT], ids=[p[0] for p in PREFLIGHT]
)
def test_each_preflight_rule_fails_the_pair_without_a_call(
    function: Any,
    configure: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    assert_valid_document: Any,
    make: Callable[[], bytes],
    code: str,
) -> None:
    configure(AUTO_FIT="false")
    pair_id, response = run_pair(function, buckets, make(), images.as_png())
    assert response["batchItemFailures"] == []
    document = assert_valid_document(buckets.document(pair_id))
    assert (document["status"], document["error"]["stage"]) == ("failed", "preflight")
    assert document["error"]["code"] == code
    assert document["error"]["retryable"] is False
    assert "target" in document["error"]["message"]
    assert emulator.stats()["calls"] == 0


@pytest.mark.parametrize("similarity", ["abc", "-0.1", "1.5", "NaN"])
def test_an_invalid_similarity_fails_before_any_call(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    similarity: str,
) -> None:
    pair_id, _ = run_pair(
        function,
        buckets,
        images.as_jpeg(),
        images.as_png(),
        metadata={"source-similarity": similarity},
    )
    document = buckets.document(pair_id)
    assert document is not None
    assert document["error"]["code"] == "ERROR_INVALID_PARAMETER"
    assert "source-similarity" in document["error"]["message"]
    assert emulator.stats()["calls"] == 0


def test_auto_fit_downscales_instead_of_rejecting(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    assert_valid_document: Any,
) -> None:
    pair_id, _ = run_pair(
        function, buckets, images.as_jpeg(size=(4200, 4200), quality=95), images.as_png()
    )
    document = assert_valid_document(buckets.document(pair_id))
    assert document["status"] == "succeeded"
    adjusted = document["inputs"]["target"]["adjusted"]
    assert adjusted["original"]["width"] == 4200
    assert adjusted["sent"]["width"] == 4095
    assert emulator.stats()["calls"] == 1


def test_similarity_from_metadata_is_sent_and_recorded(
    function: Any,
    buckets: Buckets,
    assert_valid_document: Any,
) -> None:
    pair_id, _ = run_pair(
        function, buckets, images.as_jpeg(), images.as_png(), metadata={"source-similarity": "0.8"}
    )
    document = assert_valid_document(buckets.document(pair_id))
    assert document["source_similarity"] == 0.8


@pytest.mark.parametrize("style", ["new", "old"])
@pytest.mark.parametrize(
    ("template", "code"),
    [
        (images.gradient, "ERROR_NO_FACE_IN_FILE"),
    ],
)
def test_a_permanent_api_error_fails_the_pair_with_the_apis_details(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    assert_valid_document: Any,
    template: Callable[[], bytes],
    code: str,
    style: str,
) -> None:
    emulator.set_faults(Faults(body_style=style))  # type: ignore[arg-type]
    pair_id, response = run_pair(function, buckets, images.as_jpeg(), template())
    assert response["batchItemFailures"] == []
    document = assert_valid_document(buckets.document(pair_id))
    assert document["error"]["code"] == code
    assert (document["error"]["stage"], document["error"]["http_status"]) == ("api", 422)
    assert document["api"]["request_id"] and document["api"]["log_id"]
    assert document["api"]["attempts"] == 1
    assert emulator.stats()["calls"] == 1


@pytest.mark.parametrize(
    "outcome",
    ["SERVICE_INTERNAL_ERROR", "EXCEEDING_LIMITS", "html_502", "AI_SERVICE_TIMEOUT", "reset"],
)
def test_a_transient_error_is_retried_in_the_function(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    outcome: str,
) -> None:
    emulator.set_faults(Faults(script=(outcome, outcome)))
    pair_id, response = run_pair(function, buckets, images.as_jpeg(), images.as_png())
    assert response["batchItemFailures"] == []
    document = buckets.document(pair_id)
    assert document is not None
    assert (document["status"], document["api"]["attempts"]) == ("succeeded", 3)


def test_a_transient_error_that_persists_is_handed_back_without_a_document(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
) -> None:
    emulator.set_faults(Faults(script=("ERROR_GATEWAY",) * 4))
    pair_id, response = run_pair(function, buckets, images.as_jpeg(), images.as_png())
    assert len(response["batchItemFailures"]) == 2  # both halves' messages go back
    assert buckets.document(pair_id) is None
    assert emulator.stats()["calls"] == 4
    # and the retry succeeds once the API recovers: the messages come back to the queue (the
    # delivery waits for them, the integration queue's visibility timeout)
    emulator.set_faults(Faults())
    assert function.deliver()["batchItemFailures"] == []
    assert buckets.document(pair_id)["status"] == "succeeded"  # type: ignore[index]


@pytest.mark.parametrize("code", ["ERROR_NOT_ENOUGH_CREDITS", "ERROR_USER_LOCKED"])
def test_an_operational_error_is_handed_back_at_once(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    code: str,
) -> None:
    emulator.set_faults(Faults(script=(code,)))
    pair_id, response = run_pair(function, buckets, images.as_jpeg(), images.as_png())
    assert len(response["batchItemFailures"]) == 2
    assert buckets.document(pair_id) is None
    assert emulator.stats()["calls"] == 1


def test_a_rotated_key_is_re_read_once_on_401(
    function: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    stack: LocalStack,
) -> None:
    secrets = stack.client("secretsmanager")
    # Given a warm function that cached the current key
    run_pair(function, buckets, images.as_jpeg(), images.as_png())
    try:
        # When the key is rotated: the API only accepts the new one, the secret holds it
        emulator.set_api_keys({"rotated-key"})
        secrets.put_secret_value(SecretId=stack.secret_id, SecretString="rotated-key")
        pair_id, response = run_pair(function, buckets, images.as_jpeg(), images.as_png())
        # Then the 401 makes the function re-read the secret and the pair succeeds
        assert response["batchItemFailures"] == []
        document = buckets.document(pair_id)
        assert document is not None
        assert (document["status"], document["api"]["attempts"]) == ("succeeded", 2)
        # And a wrong key in the secret is an operational fault, handed back at once
        emulator.set_api_keys({"yet-another-key"})
        secrets.put_secret_value(SecretId=stack.secret_id, SecretString='{"api_key": "wrong"}')
        pair_id, response = run_pair(function, buckets, images.as_jpeg(), images.as_png())
        assert len(response["batchItemFailures"]) == 2
        assert emulator.stats()["calls"] == 1 + 2 + 2  # the third pair: one re-read, no more
    finally:
        secrets.put_secret_value(
            SecretId=stack.secret_id, SecretString=f'{{"api_key": "{API_KEY}"}}'
        )
