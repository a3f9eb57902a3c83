"""The API key and the seeds' input rules: each answers its documented status and code."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import Image

from local_stack.emulator import FusionEmulator
from local_stack.emulator.validation import MAX_FILE_BYTES
from tests.emulator.support import API_KEY, FusionClient, error_code
from tests.images import (
    as_jpeg,
    decompression_bomb,
    encode,
    gif,
    gradient,
    grayscale_l,
    grayscale_rgb,
    padded_to,
    png_16bit_gray,
    png_with_bad_crc,
    portrait,
    truncated_jpeg,
    webp,
)
from tests.phone_images import phone_jpeg, upright


def solid(width: int, height: int) -> bytes:
    """A plain colour JPEG: cheap at any size, in colour, and without a face."""
    return encode(Image.new("RGB", (width, height), (200, 120, 80)), "JPEG")


def face() -> bytes:
    return portrait("astronaut.png")


def scene() -> bytes:
    return portrait("grace_hopper.jpg")


Case = tuple[Callable[[], bytes | None], Callable[[], bytes | None], str | None, int, str]

CASES: dict[str, Case] = {
    # name: (target, template, similarity, HTTP status, error_detail.code)
    "no target": (lambda: None, scene, None, 400, "MISSING_PARAMETERS"),
    "no template": (face, lambda: None, None, 400, "MISSING_PARAMETERS"),
    "no images, bad similarity": (lambda: None, lambda: None, "2", 400, "MISSING_PARAMETERS"),
    "similarity above 1": (face, scene, "1.5", 400, "ERROR_INVALID_PARAMETER"),
    "similarity below 0": (face, scene, "-0.1", 400, "ERROR_INVALID_PARAMETER"),
    "similarity not a number": (face, scene, "high", 400, "ERROR_INVALID_PARAMETER"),
    "similarity NaN": (face, scene, "nan", 400, "ERROR_INVALID_PARAMETER"),
    "similarity empty": (face, scene, "", 400, "ERROR_INVALID_PARAMETER"),
    "bad similarity before bad file": (lambda: b"text", scene, "9", 400, "ERROR_INVALID_PARAMETER"),
    "target over 4 MB": (
        lambda: padded_to(as_jpeg(), MAX_FILE_BYTES + 1),
        scene,
        None,
        413,
        "FILE_SIZE_EXCEEDS_LIMIT",
    ),
    "size before type": (
        lambda: b"x" * (MAX_FILE_BYTES + 1),
        scene,
        None,
        413,
        "FILE_SIZE_EXCEEDS_LIMIT",
    ),
    "template is text": (
        face,
        lambda: b"hello, not a picture",
        None,
        415,
        "UNSUPPORTED_FILE_TYPES",
    ),
    "target is GIF": (gif, scene, None, 415, "UNSUPPORTED_FILE_TYPES"),
    "target is WebP": (webp, scene, None, 415, "UNSUPPORTED_FILE_TYPES"),
    "empty target": (lambda: b"", scene, None, 415, "UNSUPPORTED_FILE_TYPES"),
    "truncated JPEG": (truncated_jpeg, scene, None, 422, "FILE_DECODING_FAILURE"),
    "corrupt PNG": (face, png_with_bad_crc, None, 422, "FILE_DECODING_FAILURE"),
    "target 128 px": (lambda: solid(128, 400), scene, None, 422, "ERROR_LOW_RESOLUTION"),
    "template 200 px": (face, lambda: solid(400, 200), None, 422, "ERROR_LOW_RESOLUTION"),
    "target 4100 px": (
        lambda: solid(4100, 300),
        scene,
        None,
        413,
        "FILE_RESOLUTION_EXCEEDS_LIMITS",
    ),
    "template 4096 px": (
        face,
        lambda: solid(300, 4096),
        None,
        413,
        "FILE_RESOLUTION_EXCEEDS_LIMITS",
    ),
    "decompression bomb": (decompression_bomb, scene, None, 413, "FILE_RESOLUTION_EXCEEDS_LIMITS"),
    "grayscale L": (grayscale_l, scene, None, 415, "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE"),
    "grayscale as RGB": (grayscale_rgb, scene, None, 415, "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE"),
    "16-bit grayscale": (png_16bit_gray, scene, None, 415, "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE"),
    "no face in target": (gradient, scene, None, 422, "ERROR_NO_FACE_IN_FILE"),
    "no face in template": (face, lambda: solid(600, 500), None, 422, "ERROR_NO_FACE_IN_FILE"),
    # Just inside the limits: these pass every rule up to the face check.
    "target 129 px": (lambda: solid(129, 129), scene, "0", 422, "ERROR_NO_FACE_IN_FILE"),
    "template 201 px": (face, lambda: solid(201, 201), "1", 422, "ERROR_NO_FACE_IN_FILE"),
    "target 4095 px": (lambda: solid(4095, 300), scene, None, 422, "ERROR_NO_FACE_IN_FILE"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_input_rule_answers_its_documented_code(client: FusionClient, case: Case) -> None:
    # Given a call that breaks one rule (or just stays inside one)
    target, template, similarity, status, code = case
    # When it is posted
    response = client.post(target(), template(), similarity)
    # Then the API's own status and code come back, and nothing is billed
    assert (response.status_code, error_code(response)) == (status, code)
    assert client.emulator.stats()["merges"] == 0


@pytest.mark.parametrize("make", [grayscale_l, grayscale_rgb], ids=["L", "RGB"])
def test_a_grayscale_template_is_merged(client: FusionClient, make: Callable[[], bytes]) -> None:
    # The documentation refuses black-and-white images for image_target only.
    response = client.post(face(), make())
    assert response.status_code == 200, response.text
    assert client.emulator.stats()["merges"] == 1


@pytest.mark.parametrize("orientation", [6, 8])
def test_a_sideways_portrait_is_judged_on_its_pixels_not_its_exif_tag(
    client: FusionClient, orientation: int
) -> None:
    # Stored turned, with the tag a viewer would use to stand it up: the detector ignores tags.
    sideways = phone_jpeg(orientation, upright("astronaut.png", 1024))
    response = client.post(sideways, scene())
    assert (response.status_code, error_code(response)) == (422, "ERROR_NO_FACE_IN_FILE")
    # The same pixels stored upright are merged: the refusal was the orientation's.
    upright_face = phone_jpeg(1, upright("astronaut.png", 1024))
    assert client.post(upright_face, scene()).status_code == 200


def test_a_file_of_exactly_4_mb_is_accepted(client: FusionClient, hopper: bytes) -> None:
    response = client.post(padded_to(as_jpeg(), MAX_FILE_BYTES), hopper)
    assert response.status_code == 200
    assert client.emulator.stats()["merges"] == 1


def test_a_body_that_is_not_multipart_misses_the_fields(client: FusionClient) -> None:
    response = client.post(None, None, data=b'{"image_target": "x"}')
    assert (response.status_code, error_code(response)) == (400, "MISSING_PARAMETERS")


@pytest.mark.parametrize("key", [None, "wrong-key", ""])
def test_a_missing_or_unknown_key_is_refused_before_anything_else(
    client: FusionClient, key: str | None
) -> None:
    response = client.post(None, None, key=key)  # the form is bad too: the key wins
    assert (response.status_code, error_code(response)) == (401, "ERROR_USER_NOT_EXISTS")


def test_keys_rotate_at_run_time_and_reset_restores_them(client: FusionClient) -> None:
    emulator: FusionEmulator = client.emulator
    emulator.set_api_keys({"rotated"})
    assert client.post(None, None).status_code == 401
    assert error_code(client.post(None, None, key="rotated")) == "MISSING_PARAMETERS"

    emulator.reset()
    assert client.post(None, None, key="rotated").status_code == 401
    assert error_code(client.post(None, None, key=API_KEY)) == "MISSING_PARAMETERS"


def test_keys_rotate_through_the_admin_endpoint(client: FusionClient) -> None:
    assert client.admin("PUT", "api-keys", {"api_keys": ["k2", "k3"]}).status_code == 200
    assert client.post(None, None).status_code == 401
    assert client.post(None, None, key="k3").status_code == 400
    assert client.admin("PUT", "api-keys", {"api_keys": "k2"}).status_code == 400
