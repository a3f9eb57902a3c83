"""The API's input rules, checked before any call is billed; and auto-fit of other inputs.

With auto-fit off, the API's rules apply as published and nothing is changed. With it on, an
input the API would refuse only for its form (rotated by an EXIF tag, HEIF/AVIF/WebP, CMYK,
16-bit, palette or alpha, too many pixels or bytes) is converted: `image_conversion` does it.

Pillow is imported lazily: the SQS path for a lone half never needs it, and its import is a
noticeable share of a cold start.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from portrait_fusion.core.errors import PreflightError
from portrait_fusion.images.image_conversion import (
    FitLimits,
    Size,
    decode_cost,
    encode_within,
    plan_decode,
    upright_rgb,
)
from portrait_fusion.images.image_decoding import (
    UPRIGHT,
    decode_slot,
    open_image,
    orientation,
    original_orientation,
)
from portrait_fusion.images.image_format import JPEG, PNG, SNIFF_BYTES, ImageFormat, describe, sniff
from portrait_fusion.pairs.pairing import Role

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_BYTES = 4 * 1024 * 1024
MAX_SIDE_EXCLUSIVE = 4096
MIN_SIDE_EXCLUSIVE = {Role.TARGET: 128, Role.TEMPLATE: 200}
# Auto-fit re-encodes larger inputs, within bounds that keep a 512 MB function safe from
# decompression bombs (a tiny file that claims huge dimensions).
AUTO_FIT_MAX_BYTES = 16 * 1024 * 1024
AUTO_FIT_MAX_PIXELS = 64_000_000
# The most memory one decode may take (see `image_conversion.decode_cost`). Large decodes run
# one at a time, so with two pairs at once and all four inputs at AUTO_FIT_MAX_BYTES, the
# function peaks below 40 % of its 1024 MB (README: "Memory").
DECODE_BUDGET_BYTES = 96 * 2**20
# What auto-fit aims below: under 4 MB whether the API counts 10^6 or 2^20 bytes a megabyte.
FIT_MAX_BYTES = 4_000_000
_FIT_SIDE = MAX_SIDE_EXCLUSIVE - 1
_PLAIN_MODES = frozenset({"RGB", "L"})  # 8 bits a channel, no alpha, no palette
_SAMPLE_SIDE = 256  # grayscale is judged on a small decoded sample
_GRAY_TOLERANCE = 4  # JPEG rounding leaves equal channels within a few levels
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


@dataclass(frozen=True)
class ImageInfo:
    """What the header of an image says."""

    format: ImageFormat
    width: int
    height: int
    mode: str
    size: int


@dataclass(frozen=True)
class PreparedImage:
    """An input ready to send: its bytes (maybe re-encoded), what they are, what was changed."""

    data: bytes
    info: ImageInfo
    adjustment: dict[str, Any] | None = None


def size_limit(*, auto_fit: bool) -> int:
    """The most bytes an input may have to be worth downloading."""
    return AUTO_FIT_MAX_BYTES if auto_fit else MAX_BYTES


def check_size(role: Role, size: int, *, auto_fit: bool) -> None:
    """Reject an input by its stored size, before downloading it."""
    if size > size_limit(auto_fit=auto_fit):
        raise PreflightError(
            f"{role.value} is {size} bytes; the API accepts at most {MAX_BYTES} bytes"
            + (f" and auto-fit handles at most {AUTO_FIT_MAX_BYTES}" if auto_fit else ""),
            code="FILE_SIZE_EXCEEDS_LIMIT",
        )
    if size == 0:
        raise PreflightError(f"{role.value} is an empty file", code="UNSUPPORTED_FILE_TYPES")


def read_header(data: bytes) -> ImageInfo | None:
    """Format and dimensions of `data` from its header alone; None if it is no usable image."""
    from PIL import Image

    try:
        return _header(data)
    except Image.DecompressionBombError:
        return None


def _header(data: bytes) -> ImageInfo | None:
    """Like `read_header`, but lets Pillow's `DecompressionBombError` through."""
    from PIL import UnidentifiedImageError

    image_format = sniff(data[:SNIFF_BYTES])
    if image_format is None:
        return None
    try:
        with open_image(data, image_format) as img:
            return ImageInfo(image_format, img.width, img.height, img.mode, len(data))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def prepare(role: Role, data: bytes, *, auto_fit: bool) -> PreparedImage:
    """Check one input against the API's rules; return it ready to send, or raise.

    Raises `PreflightError` with the API's own code names. With `auto_fit`, an input the API
    would refuse only for its form is converted instead of rejected (see the module's doc).
    Any other exception while reading one input is that input's `FILE_DECODING_FAILURE`:
    a bad file must end as a failed pair, never as a crash that is retried.
    """
    try:
        return _prepare(role, data, auto_fit=auto_fit)
    except PreflightError:
        raise
    except Exception as exc:  # see the docstring
        raise PreflightError(
            f"{role.value} cannot be decoded ({type(exc).__name__})",
            code="FILE_DECODING_FAILURE",
        ) from exc


def _prepare(role: Role, data: bytes, *, auto_fit: bool) -> PreparedImage:
    check_size(role, len(data), auto_fit=auto_fit)
    image_format = sniff(data[:SNIFF_BYTES])
    if image_format is None or not (image_format.sendable or auto_fit):
        raise PreflightError(
            f"{role.value} is {describe(data[:SNIFF_BYTES])}; the API accepts JPEG, PNG and BMP"
            + ("" if auto_fit else " (AUTO_FIT=true also converts HEIC/HEIF, AVIF and WebP)"),
            code="UNSUPPORTED_FILE_TYPES",
        )
    info = _checked_header(role, data)
    if info is None:
        raise PreflightError(
            f"{role.value} looks like {image_format.name} but its header cannot be decoded",
            code="FILE_DECODING_FAILURE",
        )
    if auto_fit:
        return _fitted(role, data, info)
    _check_resolution(role, info, auto_fit=False)
    if info.mode == "CMYK":
        raise PreflightError(
            f"{role.value} is a CMYK {info.format.name}; the API needs an RGB image",
            code="UNSUPPORTED_FILE_TYPES",
        )
    _check_colour(role, info, _decode_sample(role, data, info))
    return PreparedImage(data, info)


def _checked_header(role: Role, data: bytes) -> ImageInfo | None:
    from PIL import Image

    try:
        return _header(data)
    except Image.DecompressionBombError as exc:
        raise PreflightError(
            f"{role.value} claims dimensions far beyond {MAX_SIDE_EXCLUSIVE} px "
            "(a decompression bomb?)",
            code="FILE_RESOLUTION_EXCEEDS_LIMITS",
        ) from exc


def _check_resolution(role: Role, info: ImageInfo, *, auto_fit: bool) -> None:
    low = MIN_SIDE_EXCLUSIVE[role]
    if min(info.width, info.height) <= low:
        raise PreflightError(
            f"{role.value} is {info.width}x{info.height} px; each side must be larger than "
            f"{low} px",
            code="ERROR_LOW_RESOLUTION",
        )
    too_large = max(info.width, info.height) >= MAX_SIDE_EXCLUSIVE
    if too_large and (not auto_fit or info.width * info.height > AUTO_FIT_MAX_PIXELS):
        raise PreflightError(
            f"{role.value} is {info.width}x{info.height} px; each side must be smaller than "
            f"{MAX_SIDE_EXCLUSIVE} px" + (" (too large to auto-fit)" if auto_fit else ""),
            code="FILE_RESOLUTION_EXCEEDS_LIMITS",
        )
    fitted = Size(info.width, info.height).scaled_to(_FIT_SIDE)
    if auto_fit and fitted.short <= low:
        raise PreflightError(
            f"{role.value} is {info.width}x{info.height} px: too thin to fit, since its long "
            f"side at {fitted.long} px leaves the short side at {fitted.short} px and the API "
            f"needs more than {low} px",
            code="ERROR_LOW_RESOLUTION",
        )


def _check_colour(role: Role, info: ImageInfo, sample: Image | None) -> None:
    """Refuse a black-and-white target: the API documents that rule for the target only."""
    if role is not Role.TARGET:
        return
    if info.mode in _GRAY_MODES or (sample is not None and _is_grayscale(sample)):
        raise PreflightError(
            f"{role.value} is a black-and-white image (mode {info.mode}); the API needs colour",
            code="ERROR_UNSUPPORTED_GRAYSCALE_IMAGE",
        )


def _fitted(role: Role, data: bytes, info: ImageInfo) -> PreparedImage:
    """Auto-fit: send `data` as it is when the API takes it so, else a converted copy."""
    with open_image(data, info.format) as img:
        turn = orientation(img)
        declared = original_orientation(img)
        upright = Size(info.width, info.height).turned(turn)
        upright_info = ImageInfo(info.format, upright.width, upright.height, info.mode, info.size)
        _check_resolution(role, upright_info, auto_fit=True)
        changes = _changes(data, info, turn, declared)
        if not changes:
            _check_colour(role, info, _decode_sample(role, data, info))
            return PreparedImage(data, info)
        want = upright.scaled_to(_FIT_SIDE)
        decoded = plan_decode(img, turn, want, MIN_SIDE_EXCLUSIVE[role], DECODE_BUDGET_BYTES)
        resizing = decoded.long > want.long
        if decode_cost(img, info.format.name, resizing=resizing) > DECODE_BUDGET_BYTES:
            raise PreflightError(
                f"{role.value} is a {info.width}x{info.height} px {info.format.name} "
                f"(mode {info.mode}): too many pixels to decode within auto-fit's memory "
                f"budget of {DECODE_BUDGET_BYTES // 2**20} MiB",
                code="FILE_RESOLUTION_EXCEEDS_LIMITS",
            )
        # One large conversion at a time, from decode to encode: each holds several copies of
        # a 4095 px image, and a batch works on two pairs at once.
        with decode_slot(decoded.width * decoded.height):
            rgb = upright_rgb(img, turn, decoded.scaled_to(want.long))
            sample = rgb.resize(Size(rgb.width, rgb.height).scaled_to(_SAMPLE_SIDE).pair)
            _check_colour(role, info, sample)
            limits = FitLimits(FIT_MAX_BYTES, MIN_SIDE_EXCLUSIVE[role])
            out = encode_within(rgb, limits)
            del rgb
    if out is None:
        raise PreflightError(
            f"{role.value} could not be fitted under {FIT_MAX_BYTES} bytes",
            code="FILE_SIZE_EXCEEDS_LIMIT",
        )
    with open_image(out, JPEG) as sent_img:
        sent = ImageInfo(JPEG, sent_img.width, sent_img.height, sent_img.mode, len(out))
    return PreparedImage(out, sent, _adjustment(info, sent, changes, declared))


def _changes(data: bytes, info: ImageInfo, turn: int, declared: int) -> list[str]:
    """What must change before the API takes this input; empty when it takes it as it is."""
    changes = []
    if turn != UPRIGHT or declared != UPRIGHT:
        changes.append("rotated")
    if not info.format.sendable or info.mode not in _PLAIN_MODES or _png_bit_depth(data) > 8:
        changes.append("converted")
    if max(info.width, info.height) >= MAX_SIDE_EXCLUSIVE:
        changes.append("downscaled")
    if info.size > FIT_MAX_BYTES:
        changes.append("re-encoded")
    return changes


def _png_bit_depth(data: bytes) -> int:
    """Bits per channel of a PNG, from its IHDR chunk (Pillow reports 16-bit RGB as "RGB")."""
    return data[24] if sniff(data[:SNIFF_BYTES]) is PNG and len(data) > 24 else 8


def _decode_sample(role: Role, data: bytes, info: ImageInfo) -> Image | None:
    """Decode every pixel (the only way to catch truncated or corrupt image data); return a
    small sample for the colour check, which only a target needs (None for a template)."""
    try:
        with open_image(data, info.format) as img:
            if info.format is JPEG:
                # JPEG decodes at 1/2, 1/4 or 1/8 scale directly: far less time and memory.
                img.draft("RGB", (_SAMPLE_SIDE, _SAMPLE_SIDE))
            with decode_slot(img.width * img.height):
                img.load()
            if role is not Role.TARGET:
                return None
            img.thumbnail((_SAMPLE_SIDE, _SAMPLE_SIDE))
            return img.copy()
    except (OSError, ValueError, SyntaxError) as exc:
        raise PreflightError(
            f"{role.value} {info.format.name} data cannot be decoded ({type(exc).__name__})",
            code="FILE_DECODING_FAILURE",
        ) from exc


def _is_grayscale(img: Image) -> bool:
    """Whether a sample is grey in all but its mode (grey modes are refused from the header)."""
    from PIL import ImageChops

    red, green, blue = img.convert("RGB").split()
    return all(
        ImageChops.difference(a, b).getextrema()[1] <= _GRAY_TOLERANCE  # type: ignore[operator]
        for a, b in ((red, green), (green, blue))
    )


def _adjustment(
    before: ImageInfo, after: ImageInfo, changes: list[str], declared: int
) -> dict[str, Any]:
    def describe_info(info: ImageInfo) -> dict[str, Any]:
        return asdict(info) | {"format": info.format.name}

    return {
        "action": ", ".join(changes) + " (AUTO_FIT)",
        "changes": changes,
        "orientation": declared,
        "original": describe_info(before),
        "sent": describe_info(after),
    }
