"""Bad and hostile input at the front door: each kind ends with a clear code, none crashes
the function, none calls the API for a bad image, none is retried."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from local_stack.emulator import FusionEmulator
from tests import images
from tests.harness import Buckets, unique_pair

FOUR_MB = 4 * 1024 * 1024


@dataclass(frozen=True)
class Case:
    name: str
    expect: str  # an error code, "succeeded", or "waiting"
    target: Callable[[], bytes] = images.as_jpeg
    target_ext: str = "jpg"
    pair_id: Callable[[], str] = unique_pair
    metadata: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    with_template: bool = True


CORPUS = [
    Case("empty file", "UNSUPPORTED_FILE_TYPES", lambda: b""),
    Case("truncated JPEG", "FILE_DECODING_FAILURE", images.truncated_jpeg),
    Case("PNG with a wrong CRC", "FILE_DECODING_FAILURE", images.png_with_bad_crc, "png"),
    Case("text file named .jpg", "UNSUPPORTED_FILE_TYPES", lambda: b"name,age\nada,36\n"),
    Case(
        "WebP named .jpg, AUTO_FIT off",
        "UNSUPPORTED_FILE_TYPES",
        images.webp,
        env={"AUTO_FIT": "false"},
    ),
    Case("WebP named .jpg, AUTO_FIT on", "succeeded", images.webp),
    Case("GIF named .jpg", "UNSUPPORTED_FILE_TYPES", images.gif),
    Case(
        "HEIC header named .jpg, AUTO_FIT off",
        "UNSUPPORTED_FILE_TYPES",
        images.heic_signature,
        env={"AUTO_FIT": "false"},
    ),
    Case("HEIC header without an image", "FILE_DECODING_FAILURE", images.heic_signature),
    Case("grayscale (L)", "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE", images.grayscale_l),
    Case("grayscale as RGB", "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE", images.grayscale_rgb),
    Case(
        "CMYK JPEG, AUTO_FIT off",
        "UNSUPPORTED_FILE_TYPES",
        images.cmyk_jpeg,
        env={"AUTO_FIT": "false"},
    ),
    Case("CMYK JPEG, AUTO_FIT on", "succeeded", images.cmyk_jpeg),
    Case("16-bit PNG", "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE", images.png_16bit_gray, "png"),
    Case("decompression bomb", "FILE_RESOLUTION_EXCEEDS_LIMITS", images.decompression_bomb, "png"),
    Case("3x3 px", "ERROR_LOW_RESOLUTION", lambda: images.as_jpeg(size=(3, 3))),
    Case(
        "5000x5000 px, AUTO_FIT off",
        "FILE_RESOLUTION_EXCEEDS_LIMITS",
        lambda: images.as_jpeg(size=(5000, 5000), quality=60),
        env={"AUTO_FIT": "false"},
    ),
    Case(
        "5000x5000 px, AUTO_FIT on",
        "succeeded",
        lambda: images.as_jpeg(size=(5000, 5000), quality=60),
    ),
    Case(
        "4 MB + 1 byte, AUTO_FIT off",
        "FILE_SIZE_EXCEEDS_LIMIT",
        lambda: images.padded_to(images.as_jpeg(), FOUR_MB + 1),
        env={"AUTO_FIT": "false"},
    ),
    Case(
        "4 MB + 1 byte, AUTO_FIT on",
        "succeeded",
        lambda: images.padded_to(images.as_jpeg(), FOUR_MB + 1),
    ),
    Case("key with spaces", "succeeded", pair_id=lambda: unique_pair("my holiday photo")),
    Case("key with +", "succeeded", pair_id=lambda: unique_pair("a+b")),
    Case("key with %", "succeeded", pair_id=lambda: unique_pair("100%25 %real")),
    Case("unicode key", "succeeded", pair_id=lambda: unique_pair("Zoë/写真/🙂")),
    Case("key with ..", "succeeded", pair_id=lambda: unique_pair("../../etc/..")),
    Case("very long key", "succeeded", pair_id=lambda: unique_pair("x" * 900)),
    Case(
        "pair id of 10 folders",
        "succeeded",
        pair_id=lambda: "/".join(f"level{n}" for n in range(9)) + "/" + unique_pair(),
    ),
    Case('similarity "abc"', "ERROR_INVALID_PARAMETER", metadata={"source-similarity": "abc"}),
    Case("similarity -0.1", "ERROR_INVALID_PARAMETER", metadata={"source-similarity": "-0.1"}),
    Case("similarity 1.5", "ERROR_INVALID_PARAMETER", metadata={"source-similarity": "1.5"}),
    Case("similarity NaN", "ERROR_INVALID_PARAMETER", metadata={"source-similarity": "NaN"}),
    Case("metadata in mixed case", "succeeded", metadata={"Source-Similarity": "0.7"}),
    Case("a lone half that never gets a partner", "waiting", with_template=False),
]


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_bad_input(
    case: Case,
    function: Any,
    configure: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    assert_valid_document: Any,
) -> None:
    configure(**case.env)
    pair_id = case.pair_id()
    buckets.upload(pair_id, "target", case.target(), case.target_ext, metadata=case.metadata)
    if case.with_template:
        buckets.upload(pair_id, "template", images.as_png(), "png")

    response = function.deliver()

    assert response["batchItemFailures"] == []  # consumed: never retried forever
    document = buckets.document(pair_id)
    if case.expect == "waiting":
        assert document is None
        assert emulator.stats()["calls"] == 0
        return
    assert document is not None
    assert_valid_document(document)
    if case.expect == "succeeded":
        assert document["status"] == "succeeded", document["error"]
        assert document["pair_id"] == pair_id
        assert emulator.stats()["calls"] == 1
        if case.metadata:
            assert document["source_similarity"] == 0.7
        return
    assert (document["status"], document["error"]["code"]) == ("failed", case.expect)
    assert document["error"]["message"]
    assert emulator.stats()["calls"] == 0


def test_the_corpus_has_at_least_25_kinds() -> None:
    assert len(CORPUS) >= 25
