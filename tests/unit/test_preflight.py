"""Preflight: every documented input rule, by magic bytes and headers, before any call."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import pytest
from PIL import Image

from portrait_fusion.core.errors import PreflightError
from portrait_fusion.images import preflight
from portrait_fusion.images.image_decoding import LARGE_DECODE_PIXELS, decode_slot
from portrait_fusion.images.preflight import (
    AUTO_FIT_MAX_BYTES,
    FIT_MAX_BYTES,
    MAX_BYTES,
    check_size,
    prepare,
    read_header,
)
from portrait_fusion.pairs.pairing import Role
from tests import images, phone_images
from tests.phone_images import exif_with_orientation

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


def test_an_unsupported_type_is_named_and_auto_fit_suggested_only_where_it_would_help() -> None:
    error = refusal(Role.TARGET, images.webp(), auto_fit=False)
    assert error.message == (
        "target is a WebP image; the API accepts JPEG, PNG and BMP "
        "(AUTO_FIT=true also converts HEIC/HEIF, AVIF and WebP)"
    )
    error = refusal(Role.TEMPLATE, images.gif(), auto_fit=True)
    assert error.message == "template is a GIF file; the API accepts JPEG, PNG and BMP"


@pytest.mark.parametrize("auto_fit", [True, False])
def test_a_decompression_bomb_is_named_as_such(auto_fit: bool) -> None:
    error = refusal(Role.TEMPLATE, images.decompression_bomb(), auto_fit=auto_fit)
    assert error.message == (
        "template claims dimensions far beyond 4096 px (a decompression bomb?)"
    )


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
    assert caught.value.message == "target looks like HEIF but its header cannot be decoded"


def test_a_jpeg_signature_without_a_header_is_a_decoding_failure_named_so() -> None:
    error = refusal(Role.TEMPLATE, b"\xff\xd8\xff" + b"\x00" * 64, auto_fit=False)
    assert (error.code, error.message) == (
        "FILE_DECODING_FAILURE",
        "template looks like JPEG but its header cannot be decoded",
    )


def test_without_auto_fit_a_cmyk_jpeg_is_refused_as_such() -> None:
    error = refusal(Role.TARGET, images.cmyk_jpeg(), auto_fit=False)
    assert error.message == "target is a CMYK JPEG; the API needs an RGB image"


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


# The published limits, each from both sides: <= 4 MB, sides > 128 px (target) and > 200 px
# (template), < 4096 px; auto-fit's own (16 MiB, 64 megapixels, its decode budget, a shape that
# keeps its short side once fitted); and black and white, for the target only.


def refusal(role: Role, data: bytes, *, auto_fit: bool) -> PreflightError:
    with pytest.raises(PreflightError) as caught:
        prepare(role, data, auto_fit=auto_fit)
    return caught.value


def plain(colour: tuple[int, ...], size: tuple[int, int] = (300, 300), mode: str = "RGB") -> bytes:
    """A one-colour PNG: lossless, so its channels differ by exactly what is asked."""
    return images.encode(Image.new(mode, size, colour), "PNG")


def claiming(data: bytes, width: int, height: int) -> bytes:
    """A baseline JPEG whose frame header claims `width` x `height` (its data stays as it was):
    what the header alone decides, it decides without decoding a pixel."""
    frame = data.index(b"\xff\xc0") + 5  # marker, length, precision, then height and width
    return data[:frame] + struct.pack(">HH", height, width) + data[frame + 4 :]


@cache
def sideways_panorama() -> bytes:
    """26 megapixels stored sideways (EXIF orientation 6): decoded at half scale only when
    the quarter turn is taken into account (decoded in full it would break the budget)."""
    stored = Image.new("RGB", (12_000, 2_200), (180, 120, 90))
    return images.encode(stored, "JPEG", quality=50, exif=exif_with_orientation(6))


@cache
def largest_jpeg() -> bytes:
    """64 megapixels, the most auto-fit takes."""
    return images.encode(Image.new("RGB", (8_000, 8_000), (180, 120, 90)), "JPEG", quality=50)


def png_claiming(width: int, height: int, colour_type: int) -> bytes:
    """A PNG whose header claims `width` x `height` (colour type 6: RGBA), with no pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@cache
def webp_at_budget(height: int) -> bytes:
    """A 4096 px wide WebP: at 1536 px high its decode takes exactly the 96 MiB budget."""
    return images.encode(Image.new("RGB", (4096, height), (180, 120, 90)), "WEBP", method=0)


def test_exactly_4_mib_is_sent_as_it_is_and_a_byte_more_is_refused() -> None:
    data = images.padded_to(images.as_jpeg(), MAX_BYTES)
    assert prepare(Role.TARGET, data, auto_fit=False).data is data
    error = refusal(Role.TARGET, data + b"\x00", auto_fit=False)
    assert (error.code, error.message) == (
        "FILE_SIZE_EXCEEDS_LIMIT",
        "target is 4194305 bytes; the API accepts at most 4194304 bytes",
    )


def test_auto_fit_downloads_up_to_16_mib_and_says_so_above() -> None:
    check_size(Role.TEMPLATE, AUTO_FIT_MAX_BYTES, auto_fit=True)
    with pytest.raises(PreflightError) as caught:
        check_size(Role.TEMPLATE, AUTO_FIT_MAX_BYTES + 1, auto_fit=True)
    assert (caught.value.code, caught.value.message) == (
        "FILE_SIZE_EXCEEDS_LIMIT",
        "template is 16777217 bytes; the API accepts at most 4194304 bytes "
        "and auto-fit handles at most 16777216",
    )


@pytest.mark.parametrize("auto_fit", [True, False])
def test_an_empty_object_is_refused_from_its_size_and_one_byte_is_worth_reading(
    auto_fit: bool,
) -> None:
    check_size(Role.TARGET, 1, auto_fit=auto_fit)
    with pytest.raises(PreflightError) as caught:
        check_size(Role.TARGET, 0, auto_fit=auto_fit)
    assert (caught.value.code, caught.value.message) == (
        "UNSUPPORTED_FILE_TYPES",
        "target is an empty file",
    )


def test_auto_fit_re_encodes_only_above_4_000_000_bytes() -> None:
    at_limit = images.padded_to(images.as_jpeg(), FIT_MAX_BYTES)
    assert prepare(Role.TARGET, at_limit, auto_fit=True).data is at_limit
    over = prepare(Role.TARGET, at_limit + b"\x00", auto_fit=True)
    assert over.info.size <= FIT_MAX_BYTES
    assert over.adjustment is not None
    assert over.adjustment["action"] == "re-encoded (AUTO_FIT)"
    assert over.adjustment["changes"] == ["re-encoded"]


@pytest.mark.parametrize("size", [(4095, 1024), (1024, 4095)])
def test_4095_px_on_either_side_is_sent_as_it_is(size: tuple[int, int]) -> None:
    data = images.as_jpeg(size=size, quality=50)
    prepared = prepare(Role.TEMPLATE, data, auto_fit=False)
    assert prepared.data is data
    assert (prepared.info.width, prepared.info.height) == size


def test_4096_px_high_is_refused_with_the_limit_named() -> None:
    error = refusal(Role.TEMPLATE, images.as_jpeg(size=(1024, 4096), quality=50), auto_fit=False)
    assert (error.code, error.message) == (
        "FILE_RESOLUTION_EXCEEDS_LIMITS",
        "template is 1024x4096 px; each side must be smaller than 4096 px",
    )


@pytest.mark.parametrize(("role", "low"), [(Role.TARGET, 128), (Role.TEMPLATE, 200)])
def test_a_side_at_the_minimum_is_refused_with_the_minimum_named(role: Role, low: int) -> None:
    error = refusal(role, images.as_jpeg(size=(400, low)), auto_fit=False)
    assert (error.code, error.message) == (
        "ERROR_LOW_RESOLUTION",
        f"{role.value} is 400x{low} px; each side must be larger than {low} px",
    )


def test_auto_fit_takes_64_megapixels_decoded_and_sent_at_half_scale() -> None:
    prepared = prepare(Role.TEMPLATE, largest_jpeg(), auto_fit=True)
    assert (prepared.info.width, prepared.info.height) == (4000, 4000)
    assert prepared.adjustment is not None
    assert prepared.adjustment["changes"] == ["downscaled"]


def test_a_photo_stored_sideways_is_fitted_and_sent_upright() -> None:
    prepared = prepare(Role.TEMPLATE, sideways_panorama(), auto_fit=True)
    assert (prepared.info.width, prepared.info.height) == (751, 4095)
    assert prepared.adjustment is not None
    assert prepared.adjustment["changes"] == ["rotated", "downscaled"]
    assert prepared.adjustment["action"] == "rotated, downscaled (AUTO_FIT)"
    assert prepared.adjustment["orientation"] == 6


@pytest.mark.parametrize("size", [(16_000, 4_001), (8_001, 8_000)])
def test_auto_fit_refuses_a_pixel_row_more_than_64_megapixels(size: tuple[int, int]) -> None:
    data = claiming(images.as_jpeg(size=(400, 400)), *size)
    error = refusal(Role.TEMPLATE, data, auto_fit=True)
    assert (error.code, error.message) == (
        "FILE_RESOLUTION_EXCEEDS_LIMITS",
        f"template is {size[0]}x{size[1]} px; each side must be smaller than 4096 px "
        "(too large to auto-fit)",
    )


@pytest.mark.parametrize(
    ("role", "kept", "lost"),
    [(Role.TARGET, 258, 256), (Role.TEMPLATE, 402, 400)],
)
def test_auto_fit_refuses_a_shape_whose_short_side_would_fall_to_the_minimum(
    role: Role, kept: int, lost: int
) -> None:
    # Fitting 8190 px to 4095 halves the short side: 258 -> 129 (> 128), 256 -> 128 (not).
    fitted = prepare(role, images.as_jpeg(size=(8190, kept), quality=50), auto_fit=True)
    assert (fitted.info.width, fitted.info.height) == (4095, kept // 2)
    error = refusal(role, images.as_jpeg(size=(8190, lost), quality=50), auto_fit=True)
    low = lost // 2
    assert (error.code, error.message) == (
        "ERROR_LOW_RESOLUTION",
        f"{role.value} is 8190x{lost} px: too thin to fit, since its long side at 4095 px "
        f"leaves the short side at {low} px and the API needs more than {low} px",
    )


def test_auto_fit_converts_a_webp_whose_decode_fits_its_budget_and_refuses_one_row_more() -> None:
    fitted = prepare(Role.TARGET, webp_at_budget(1536), auto_fit=True)
    assert (fitted.info.format.name, fitted.info.width, fitted.info.height) == ("JPEG", 4095, 1536)
    assert fitted.adjustment is not None
    assert fitted.adjustment["action"] == "converted, downscaled (AUTO_FIT)"
    error = refusal(Role.TARGET, webp_at_budget(1537), auto_fit=True)
    assert (error.code, error.message) == (
        "FILE_RESOLUTION_EXCEEDS_LIMITS",
        "target is a 4096x1537 px WEBP (mode RGB): too many pixels to decode within "
        "auto-fit's memory budget of 96 MiB",
    )


def test_an_rgba_png_under_4096_px_is_not_downscaled_so_costs_4_bytes_a_pixel() -> None:
    # 12.7 megapixels: within the budget at 4 bytes a pixel, beyond it at the 8 of a downscale.
    data = images.encode(Image.new("RGBA", (4095, 3100), (180, 120, 90, 255)), "PNG")
    fitted = prepare(Role.TEMPLATE, data, auto_fit=True)
    assert (fitted.info.width, fitted.info.height) == (4095, 3100)
    assert fitted.adjustment is not None
    assert fitted.adjustment["changes"] == ["converted"]


def test_an_rgba_png_to_downscale_costs_8_bytes_a_pixel() -> None:
    error = refusal(Role.TEMPLATE, png_claiming(4096, 3073, colour_type=6), auto_fit=True)
    assert (error.code, error.message) == (
        "FILE_RESOLUTION_EXCEEDS_LIMITS",
        "template is a 4096x3073 px PNG (mode RGBA): too many pixels to decode within "
        "auto-fit's memory budget of 96 MiB",
    )


def test_an_input_that_no_quality_or_size_fits_under_4_000_000_bytes_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pillow's JPEG encoder never needs it at these limits (noise at quality 70 takes about
    # 0.6 byte a pixel): the encoder stands in for one that gives up.
    monkeypatch.setattr(preflight, "encode_within", lambda image, limits: None)
    error = refusal(Role.TARGET, images.webp(), auto_fit=True)
    assert (error.code, error.message) == (
        "FILE_SIZE_EXCEEDS_LIMIT",
        "target could not be fitted under 4000000 bytes",
    )


@pytest.mark.parametrize("auto_fit", [True, False])
@pytest.mark.parametrize(
    ("colour", "grey"),
    [
        ((100, 104, 100), True),  # channels within 4 levels: JPEG rounding of a grey picture
        ((100, 100, 96), True),
        ((100, 105, 100), False),  # 5 levels apart: a colour, however faint
        ((100, 100, 105), False),
        ((100, 105, 105), False),
    ],
)
def test_a_target_is_black_and_white_when_its_channels_stay_within_4_levels(
    colour: tuple[int, int, int], grey: bool, auto_fit: bool
) -> None:
    data = plain(colour)
    if grey:
        error = refusal(Role.TARGET, data, auto_fit=auto_fit)
        assert (error.code, error.message) == (
            "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE",
            "target is a black-and-white image (mode RGB); the API needs colour",
        )
    else:
        assert prepare(Role.TARGET, data, auto_fit=auto_fit).data is data
    assert prepare(Role.TEMPLATE, data, auto_fit=auto_fit).data is data


@pytest.mark.parametrize(
    ("colour", "grey"), [((90, 90, 93, 255), True), ((90, 96, 90, 255), False)]
)
def test_a_converted_target_is_judged_black_and_white_after_conversion(
    colour: tuple[int, int, int, int], grey: bool
) -> None:
    data = plain(colour, mode="RGBA")  # alpha: auto-fit converts it to RGB before judging
    if grey:
        assert refusal(Role.TARGET, data, auto_fit=True).code == "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE"
    else:
        assert prepare(Role.TARGET, data, auto_fit=True).adjustment is not None


def test_without_auto_fit_a_colour_png_with_alpha_is_sent_as_it_is() -> None:
    data = phone_images.alpha_png()
    prepared = prepare(Role.TARGET, data, auto_fit=False)
    assert prepared.data is data
    assert prepared.info.mode == "RGBA"


def test_a_16_bit_png_is_converted_and_an_8_bit_one_is_not() -> None:
    sixteen = prepare(Role.TARGET, phone_images.png_16bit_rgb(), auto_fit=True)
    assert sixteen.adjustment is not None
    assert sixteen.adjustment["changes"] == ["converted"]
    eight = plain((200, 120, 90))
    assert prepare(Role.TARGET, eight, auto_fit=True).data is eight


@pytest.mark.parametrize("auto_fit", [True, False])
def test_a_truncated_image_names_its_format_and_the_decoders_complaint(auto_fit: bool) -> None:
    error = refusal(Role.TARGET, images.truncated_jpeg(), auto_fit=auto_fit)
    assert (error.code, error.message) == (
        "FILE_DECODING_FAILURE",
        "target JPEG data cannot be decoded (OSError)",
    )


def test_the_adjustment_records_what_was_received_and_what_was_sent() -> None:
    data = images.as_jpeg(size=(4096, 1024), quality=50)
    fitted = prepare(Role.TEMPLATE, data, auto_fit=True)
    assert fitted.adjustment == {
        "action": "downscaled (AUTO_FIT)",
        "changes": ["downscaled"],
        "orientation": 1,
        "original": {
            "format": "JPEG",
            "width": 4096,
            "height": 1024,
            "mode": "RGB",
            "size": len(data),
        },
        "sent": {
            "format": "JPEG",
            "width": 4095,
            "height": 1024,
            "mode": "RGB",
            "size": len(fitted.data),
        },
    }


def finishes_beside_a_large_decode(work: Callable[[], object], seconds: float) -> bool:
    """Whether `work` finishes within `seconds` while another large decode holds the slot."""
    with ThreadPoolExecutor(1) as pool, decode_slot(LARGE_DECODE_PIXELS):
        running = pool.submit(work)
        try:
            running.result(timeout=seconds)
        except TimeoutError:
            return False
        return True


def test_checking_a_large_jpeg_decodes_a_small_sample_beside_a_large_decode() -> None:
    # A JPEG's sample decodes at 1/8 scale: 12 megapixels check as 1.5 megapixels.
    data = images.encode(Image.new("RGB", (4000, 3000), (180, 120, 90)), "JPEG")
    assert finishes_beside_a_large_decode(lambda: prepare(Role.TARGET, data, auto_fit=False), 60)


@pytest.mark.parametrize(("mode", "auto_fit"), [("RGB", False), ("RGBA", True)])
def test_checking_or_converting_a_large_png_waits_for_the_large_decode_before_it(
    mode: str, auto_fit: bool
) -> None:
    # 4.2 megapixels, decoded in full: checked as it is, or (with alpha) converted.
    data = plain((180, 120, 90, 255)[: len(mode)], size=(2100, 2000), mode=mode)
    assert not finishes_beside_a_large_decode(
        lambda: prepare(Role.TARGET, data, auto_fit=auto_fit), 1
    )
