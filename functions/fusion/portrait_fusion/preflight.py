"""The API's input rules, checked before any call is billed; and auto-fit of oversized inputs.

Pillow is imported lazily: the SQS path for a lone half never needs it, and its import is a
noticeable share of a cold start.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portrait_fusion.errors import PreflightError
from portrait_fusion.image_format import JPEG, ImageFormat, describe, sniff
from portrait_fusion.pairing import Role

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_BYTES = 4 * 1024 * 1024
MAX_SIDE_EXCLUSIVE = 4096
MIN_SIDE_EXCLUSIVE = {Role.TARGET: 128, Role.TEMPLATE: 200}
# Auto-fit re-encodes larger inputs, within bounds that keep a 512 MB function safe from
# decompression bombs (a tiny file that claims huge dimensions).
AUTO_FIT_MAX_BYTES = 32 * 1024 * 1024
AUTO_FIT_MAX_PIXELS = 64_000_000
_FIT_SIDE = MAX_SIDE_EXCLUSIVE - 1
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
    from PIL import Image, UnidentifiedImageError

    image_format = sniff(data[:32])
    if image_format is None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:
            return ImageInfo(image_format, img.width, img.height, img.mode, len(data))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def prepare(role: Role, data: bytes, *, auto_fit: bool) -> PreparedImage:
    """Check one input against the API's rules; return it ready to send, or raise.

    Raises `PreflightError` with the API's own code names. With `auto_fit`, an input over the
    byte or pixel limits is downscaled and re-encoded instead of rejected.
    """
    check_size(role, len(data), auto_fit=auto_fit)
    image_format = sniff(data[:32])
    if image_format is None:
        raise PreflightError(
            f"{role.value} is {describe(data[:64])}; the API accepts JPEG, PNG and BMP",
            code="UNSUPPORTED_FILE_TYPES",
        )
    info = _checked_header(role, data)
    if info is None:
        raise PreflightError(
            f"{role.value} looks like {image_format.name} but its header cannot be decoded",
            code="FILE_DECODING_FAILURE",
        )
    _check_resolution(role, info, auto_fit=auto_fit)
    if info.mode == "CMYK":
        raise PreflightError(
            f"{role.value} is a CMYK {info.format.name}; the API needs an RGB image",
            code="UNSUPPORTED_FILE_TYPES",
        )
    sample = _decode_sample(role, data, info)
    if _is_grayscale(sample):
        raise PreflightError(
            f"{role.value} is a black-and-white image (mode {info.mode}); the API needs colour",
            code="ERROR_UNSUPPORTED_GRAYSCALE_IMAGE",
        )
    if _fits(info):
        return PreparedImage(data, info)
    return _auto_fit(role, data, info)


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


def _fits(info: ImageInfo) -> bool:
    return info.size <= MAX_BYTES and max(info.width, info.height) < MAX_SIDE_EXCLUSIVE


def _open_reduced(data: bytes, info: ImageInfo, side: int) -> Image:
    """Decode `data` at roughly `side` px on its long edge, as cheaply as the format allows."""
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    if info.format is JPEG:
        # JPEG decodes at 1/2, 1/4 or 1/8 scale directly: far less time and memory.
        scale = max(info.width, info.height) / side
        img.draft("RGB", (int(info.width / scale), int(info.height / scale)))
    img.load()
    return img


def _decode_sample(role: Role, data: bytes, info: ImageInfo) -> Image:
    # Decoding every pixel is the only way to catch truncated or corrupt image data.
    try:
        img = _open_reduced(data, info, _SAMPLE_SIDE)
        img.thumbnail((_SAMPLE_SIDE, _SAMPLE_SIDE))
    except (OSError, ValueError, SyntaxError) as exc:
        raise PreflightError(
            f"{role.value} {info.format.name} data cannot be decoded ({type(exc).__name__})",
            code="FILE_DECODING_FAILURE",
        ) from exc
    return img


def _is_grayscale(img: Image) -> bool:
    from PIL import ImageChops

    if img.mode in _GRAY_MODES:
        return True
    red, green, blue = img.convert("RGB").split()
    return all(
        ImageChops.difference(a, b).getextrema()[1] <= _GRAY_TOLERANCE  # type: ignore[operator]
        for a, b in ((red, green), (green, blue))
    )


def _auto_fit(role: Role, data: bytes, info: ImageInfo) -> PreparedImage:
    """Downscale to under 4096 px and re-encode as JPEG until the bytes fit in 4 MB."""
    from PIL import Image

    side = min(_FIT_SIDE, max(info.width, info.height))
    img = _open_reduced(data, info, side)
    if img.mode != "RGB":
        img = img.convert("RGB")
    for _ in range(6):
        scale = side / max(info.width, info.height)
        size = (max(1, round(info.width * scale)), max(1, round(info.height * scale)))
        resized = img.resize(size, Image.Resampling.LANCZOS) if img.size != size else img
        buffer = io.BytesIO()
        resized.save(buffer, format="JPEG", quality=90, optimize=True)
        if buffer.tell() <= MAX_BYTES:
            out = buffer.getvalue()
            fitted = ImageInfo(JPEG, size[0], size[1], "RGB", len(out))
            return PreparedImage(out, fitted, _adjustment(info, fitted))
        side = int(side * 0.8)
    raise PreflightError(  # pragma: no cover - 6 rounds shrink any photo below 4 MB
        f"{role.value} could not be fitted under {MAX_BYTES} bytes",
        code="FILE_SIZE_EXCEEDS_LIMIT",
    )


def _adjustment(before: ImageInfo, after: ImageInfo) -> dict[str, Any]:
    def describe_info(info: ImageInfo) -> dict[str, Any]:
        return {
            "format": info.format.name,
            "width": info.width,
            "height": info.height,
            "size": info.size,
        }

    return {
        "action": "downscaled and re-encoded (AUTO_FIT)",
        "original": describe_info(before),
        "sent": describe_info(after),
    }
