"""Auto-fit's conversions: upright pixels, formats and modes the API takes, shapes it can
take, bytes under 4,000,000; and no exception on one input ever escaping as a crash."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from portrait_fusion.core.errors import PreflightError
from portrait_fusion.images import image_conversion
from portrait_fusion.images.image_conversion import FitLimits, Size, encode_within
from portrait_fusion.images.image_format import AVIF, HEIF, WEBP, sniff
from portrait_fusion.images.preflight import AUTO_FIT_MAX_BYTES, FIT_MAX_BYTES, MAX_BYTES, prepare
from portrait_fusion.pairs.pairing import Role
from tests import images, phone_images

ROOT = Path(__file__).resolve().parents[2]


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32)


def _distance(data: bytes, reference: Image.Image) -> float:
    sent = _pixels(data)
    expected = np.asarray(reference, dtype=np.float32)
    if sent.shape != expected.shape:
        return float("inf")
    return float(np.abs(sent - expected).mean())


@pytest.mark.parametrize("orientation", phone_images.ORIENTATIONS)
def test_every_exif_orientation_is_applied_before_sending(orientation: int) -> None:
    upright = phone_images.upright("grace_hopper.jpg")  # not square: sides must swap right
    prepared = prepare(Role.TARGET, phone_images.phone_jpeg(orientation, upright), auto_fit=True)
    # The sent pixels are the upright picture, and closer to it than any other turn of it.
    distance = _distance(prepared.data, upright)
    assert distance < 4
    for other in phone_images.ORIENTATIONS:
        turned = phone_images.stored_for(upright, other)
        if other != 1 and turned.tobytes() != upright.tobytes():
            assert _distance(prepared.data, turned) > distance
    # Nothing stale travels with them: no orientation tag says to turn them again.
    sent = Image.open(io.BytesIO(prepared.data))
    assert sent.getexif().get(phone_images.ORIENTATION_TAG, 1) == 1
    if orientation == 1:
        assert prepared.adjustment is None
    else:
        assert prepared.adjustment is not None
        assert prepared.adjustment["changes"] == ["rotated"]
        assert prepared.adjustment["orientation"] == orientation


def test_a_rotated_heic_is_sent_upright() -> None:
    upright = phone_images.upright("grace_hopper.jpg")
    prepared = prepare(Role.TEMPLATE, phone_images.heic(upright, orientation=6), auto_fit=True)
    assert _distance(prepared.data, upright) < 6
    assert prepared.adjustment is not None
    assert prepared.adjustment["changes"] == ["rotated", "converted"]
    assert prepared.adjustment["original"]["format"] == "HEIF"


@pytest.mark.parametrize("kind", phone_images.CONVERTIBLE)
@pytest.mark.parametrize("role", list(Role), ids=[role.value for role in Role])
def test_each_convertible_input_becomes_an_8_bit_rgb_jpeg(kind: str, role: Role) -> None:
    data = phone_images.CONVERTIBLE[kind]()
    prepared = prepare(role, data, auto_fit=True)
    sent = Image.open(io.BytesIO(prepared.data))
    assert (sent.format, sent.mode) == ("JPEG", "RGB")
    assert prepared.adjustment is not None
    assert prepared.adjustment["changes"] == ["converted"]
    assert prepared.adjustment["original"]["size"] == len(data)
    assert prepared.adjustment["sent"] == {
        "format": "JPEG",
        "mode": "RGB",
        "width": sent.width,
        "height": sent.height,
        "size": len(prepared.data),
    }


def test_formats_are_told_apart_by_their_bytes() -> None:
    assert sniff(phone_images.heic()[:64]) is HEIF
    assert sniff(phone_images.avif()[:64]) is AVIF
    assert sniff(phone_images.webp()[:64]) is WEBP


def test_sixteen_bit_gray_is_scaled_down_not_clipped_to_white() -> None:
    data = phone_images.png_16bit_gray()
    prepared = prepare(Role.TEMPLATE, data, auto_fit=True)
    expected = phone_images.upright("grace_hopper.jpg").convert("L").convert("RGB")
    assert _distance(prepared.data, expected) < 3


def test_transparent_areas_become_white() -> None:
    prepared = prepare(Role.TARGET, phone_images.alpha_png(), auto_fit=True)
    assert _pixels(prepared.data)[2, 2].min() > 245  # in the transparent border


@pytest.mark.parametrize("auto_fit", [True, False])
def test_a_grayscale_template_is_sent(auto_fit: bool) -> None:
    data = phone_images.gray_template()
    assert prepare(Role.TEMPLATE, data, auto_fit=auto_fit).data is data
    with pytest.raises(PreflightError) as caught:
        prepare(Role.TARGET, data, auto_fit=auto_fit)
    assert caught.value.code == "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE"


def test_a_file_between_4_000_000_bytes_and_4_mib_is_refitted_with_auto_fit_only() -> None:
    data = images.padded_to(images.as_jpeg(), FIT_MAX_BYTES + 1)
    assert len(data) < MAX_BYTES
    assert prepare(Role.TARGET, data, auto_fit=False).data is data  # the API's limit: 4 MiB
    fitted = prepare(Role.TARGET, data, auto_fit=True)
    assert fitted.info.size <= FIT_MAX_BYTES
    assert fitted.adjustment is not None
    assert fitted.adjustment["changes"] == ["re-encoded"]


def test_a_noisy_4095_px_photo_is_fitted_under_4_000_000_bytes() -> None:
    noise = Image.open(io.BytesIO(images.colour_noise(1200, 1200))).resize((4095, 4095))
    data = images.encode(noise, "JPEG", quality=95)
    assert FIT_MAX_BYTES < len(data) < AUTO_FIT_MAX_BYTES
    fitted = prepare(Role.TEMPLATE, data, auto_fit=True)
    assert fitted.info.size <= FIT_MAX_BYTES
    assert min(fitted.info.width, fitted.info.height) > 200


def test_fitting_bytes_never_shrinks_below_the_minimum_side() -> None:
    noise = Image.open(io.BytesIO(images.colour_noise(300, 300)))
    assert encode_within(noise, FitLimits(max_bytes=1000, min_side_exclusive=250)) is None


@pytest.mark.parametrize(
    "shape", [(129, 40000), (40000, 129), (150, 20000)], ids=["tall", "wide", "thin"]
)
def test_too_thin_to_fit_is_low_resolution_without_decoding(shape: tuple[int, int]) -> None:
    data = images.encode(Image.new("RGB", shape, (200, 10, 10)), "JPEG")
    with pytest.raises(PreflightError) as caught:
        prepare(Role.TARGET, data, auto_fit=True)
    assert caught.value.code == "ERROR_LOW_RESOLUTION"
    assert "too thin" in caught.value.message


def test_the_fitted_size_keeps_the_shape() -> None:
    assert Size(8190, 258).scaled_to(4095) == Size(4095, 129)
    assert Size(300, 200).scaled_to(4095) == Size(300, 200)
    assert Size(300, 200).turned(6) == Size(200, 300)


def test_any_exception_while_converting_is_that_inputs_decoding_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_args: object) -> Image.Image:
        raise ZeroDivisionError("integer division or modulo by zero")

    monkeypatch.setattr(image_conversion, "_to_rgb", broken)
    with pytest.raises(PreflightError) as caught:
        prepare(Role.TARGET, phone_images.phone_jpeg(6), auto_fit=True)
    assert caught.value.code == "FILE_DECODING_FAILURE"
    assert "ZeroDivisionError" in caught.value.message


@pytest.mark.parametrize(
    ("make", "loaded"),
    [(images.as_jpeg, False), (phone_images.heic, True)],
    ids=["jpeg", "heic"],
)
def test_the_heif_decoder_is_imported_only_for_heif_input(
    make: Callable[[], bytes], loaded: bool
) -> None:
    script = (
        "import sys\n"
        "from portrait_fusion.pairs.pairing import Role\n"
        "from portrait_fusion.images.preflight import prepare\n"
        "prepare(Role.TARGET, sys.stdin.buffer.read(), auto_fit=True)\n"
        "print('pi_heif' in sys.modules)\n"
    )
    path = os.pathsep.join([str(ROOT / "functions" / "fusion"), str(ROOT)])
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=make(),
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert done.stdout.decode().strip() == str(loaded)
