"""Preflight: every documented input rule, by magic bytes and headers, before any call."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from portrait_fusion.core.errors import PreflightError
from portrait_fusion.images.preflight import MAX_BYTES, check_size, prepare, read_header
from portrait_fusion.pairs.pairing import Role
from tests import images

REJECTS: list[tuple[str, Callable[[], bytes], Role, str]] = [
    ("empty file", lambda: b"", Role.TARGET, "UNSUPPORTED_FILE_TYPES"),
    (
        "text named .jpg",
        lambda: b"hello, this is not an image\n",
        Role.TARGET,
        "UNSUPPORTED_FILE_TYPES",
    ),
    ("gif named .jpg", images.gif, Role.TEMPLATE, "UNSUPPORTED_FILE_TYPES"),
    ("truncated jpeg", images.truncated_jpeg, Role.TARGET, "FILE_DECODING_FAILURE"),
    ("png with wrong crc", images.png_with_bad_crc, Role.TEMPLATE, "FILE_DECODING_FAILURE"),
    ("grayscale L", images.grayscale_l, Role.TARGET, "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE"),
    ("grayscale as RGB", images.grayscale_rgb, Role.TARGET, "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE"),
    ("16-bit gray png", images.png_16bit_gray, Role.TARGET, "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE"),
    ("3x3 px", lambda: images.as_jpeg(size=(3, 3)), Role.TARGET, "ERROR_LOW_RESOLUTION"),
    ("target 128 px", lambda: images.as_jpeg(size=(128, 300)), Role.TARGET, "ERROR_LOW_RESOLUTION"),
    (
        "template 200 px",
        lambda: images.as_jpeg(size=(300, 200)),
        Role.TEMPLATE,
        "ERROR_LOW_RESOLUTION",
    ),
    (
        "decompression bomb",
        images.decompression_bomb,
        Role.TEMPLATE,
        "FILE_RESOLUTION_EXCEEDS_LIMITS",
    ),
]


@pytest.mark.parametrize(
    ("make", "role", "code"), [r[1:] for r in REJECTS], ids=[r[0] for r in REJECTS]
)
@pytest.mark.parametrize("auto_fit", [True, False])
def test_bad_inputs_are_rejected_with_the_apis_code(
    make: Callable[[], bytes], role: Role, code: str, auto_fit: bool
) -> None:
    with pytest.raises(PreflightError) as caught:
        prepare(role, make(), auto_fit=auto_fit)
    assert caught.value.code == code
    assert role.value in caught.value.message
    assert caught.value.stage.value == "preflight"


# Inputs the API refuses for their form alone: auto-fit converts them (test_image_conversion).
STRICT_REJECTS: list[tuple[str, Callable[[], bytes], str]] = [
    ("webp named .jpg", images.webp, "UNSUPPORTED_FILE_TYPES"),
    ("heic named .jpg", images.heic_signature, "UNSUPPORTED_FILE_TYPES"),
    ("cmyk jpeg", images.cmyk_jpeg, "UNSUPPORTED_FILE_TYPES"),
]


@pytest.mark.parametrize(
    ("make", "code"), [r[1:] for r in STRICT_REJECTS], ids=[r[0] for r in STRICT_REJECTS]
)
def test_without_auto_fit_convertible_inputs_are_rejected(
    make: Callable[[], bytes], code: str
) -> None:
    with pytest.raises(PreflightError) as caught:
        prepare(Role.TARGET, make(), auto_fit=False)
    assert caught.value.code == code


def test_error_messages_say_what_the_file_really_is() -> None:
    with pytest.raises(PreflightError, match="WebP"):
        prepare(Role.TARGET, images.webp(), auto_fit=False)
    with pytest.raises(PreflightError, match="HEIC"):
        prepare(Role.TARGET, images.heic_signature(), auto_fit=False)
    with pytest.raises(PreflightError, match="GIF"):
        prepare(Role.TARGET, images.gif(), auto_fit=True)


def test_a_heif_header_without_an_image_is_a_decoding_failure_with_auto_fit() -> None:
    with pytest.raises(PreflightError) as caught:
        prepare(Role.TARGET, images.heic_signature(), auto_fit=True)
    assert caught.value.code == "FILE_DECODING_FAILURE"


def test_good_inputs_pass_unchanged() -> None:
    data = images.as_jpeg()
    prepared = prepare(Role.TARGET, data, auto_fit=True)
    assert prepared.data is data
    assert (prepared.info.format.name, prepared.info.width, prepared.info.height) == (
        "JPEG",
        512,
        512,
    )
    assert prepared.adjustment is None
    png = images.as_png()
    assert prepare(Role.TEMPLATE, png, auto_fit=False).info.format.name == "PNG"


def test_smallest_sizes_that_pass() -> None:
    assert prepare(Role.TARGET, images.as_jpeg(size=(129, 129)), auto_fit=False)
    assert prepare(Role.TEMPLATE, images.as_jpeg(size=(201, 201)), auto_fit=False)


def test_4096_px_is_rejected_without_auto_fit_and_fitted_with_it() -> None:
    data = images.as_jpeg(size=(4096, 1024))
    with pytest.raises(PreflightError) as caught:
        prepare(Role.TEMPLATE, data, auto_fit=False)
    assert caught.value.code == "FILE_RESOLUTION_EXCEEDS_LIMITS"
    fitted = prepare(Role.TEMPLATE, data, auto_fit=True)
    assert fitted.info.width == 4095
    assert fitted.adjustment is not None
    assert fitted.adjustment["original"]["width"] == 4096


def test_over_4mb_is_rejected_without_auto_fit_and_fitted_with_it() -> None:
    data = images.padded_to(images.as_jpeg(), MAX_BYTES + 1)
    with pytest.raises(PreflightError) as caught:
        prepare(Role.TARGET, data, auto_fit=False)
    assert caught.value.code == "FILE_SIZE_EXCEEDS_LIMIT"
    fitted = prepare(Role.TARGET, data, auto_fit=True)
    assert fitted.info.size <= MAX_BYTES
    assert read_header(fitted.data) == fitted.info


def test_size_is_checked_from_metadata_before_download() -> None:
    check_size(Role.TARGET, MAX_BYTES, auto_fit=False)
    with pytest.raises(PreflightError, match="bytes"):
        check_size(Role.TARGET, MAX_BYTES + 1, auto_fit=False)
    with pytest.raises(PreflightError, match="auto-fit"):
        check_size(Role.TARGET, 64 * 1024 * 1024, auto_fit=True)


def test_read_header_refuses_non_images() -> None:
    assert read_header(b"not an image") is None
    assert read_header(b"\xff\xd8\xff" + b"\x00" * 20) is None
    info = read_header(images.as_png(size=(300, 200)))
    assert info is not None
    assert (info.width, info.height, info.format.content_type) == (300, 200, "image/png")
