"""The endpoint's input rules (the seeds' table), checked in the order a real service would.

Cheap checks come first: the form (`read_form`), then per image (`inspect_image`) its byte
size, its magic bytes, a full decode, its resolution and its colours. The face check needs
the detector and lives in `merge`.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image

from local_stack.emulator.contract import Refusal

TARGET_FIELD = "image_target"
TEMPLATE_FIELD = "image_template"
SIMILARITY_FIELD = "source_similarity"

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_SIDE_EXCLUSIVE = 4096
MIN_SIDE_EXCLUSIVE = {TARGET_FIELD: 128, TEMPLATE_FIELD: 200}

_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"BM", "BMP"))
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_GRAY_TOLERANCE = 4  # a grey picture saved as JPEG comes back with channels a level or two apart
_GRAY_SAMPLE_SIDE = 512  # colour is judged on a reduced copy: same verdict, far less work


Fingerprint = tuple[str, str, float | None]
"""(sha256 of target, sha256 of template, similarity): what a bill is for."""


@dataclass(frozen=True)
class FusionForm:
    """A form with both files present and a valid similarity; the files not yet inspected."""

    target: bytes
    template: bytes
    similarity: float | None
    """As sent; None when the field was absent."""

    @cached_property
    def fingerprint(self) -> Fingerprint:
        """What this call would bill for."""
        return (
            hashlib.sha256(self.target).hexdigest(),
            hashlib.sha256(self.template).hexdigest(),
            self.similarity,
        )


def read_form(parts: dict[str, bytes]) -> FusionForm:
    """Check the form's fields (presence, then similarity); raise `Refusal` on a breach."""
    missing = [f for f in (TARGET_FIELD, TEMPLATE_FIELD) if f not in parts]
    if missing:
        raise Refusal("MISSING_PARAMETERS", f"missing field(s): {', '.join(missing)}")
    similarity = parse_similarity(parts.get(SIMILARITY_FIELD))
    return FusionForm(parts[TARGET_FIELD], parts[TEMPLATE_FIELD], similarity)


def parse_similarity(raw: bytes | None) -> float | None:
    """`source_similarity` as a float in [0, 1], or None when the field was not sent."""
    if raw is None:
        return None
    try:
        value = float(raw.decode("utf-8").strip())
    except (UnicodeDecodeError, ValueError):
        value = math.nan
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise Refusal(
            "ERROR_INVALID_PARAMETER",
            f"{SIMILARITY_FIELD} must be a number in [0, 1], got {raw[:32]!r}",
        )
    return value


def image_format_of(data: bytes) -> str | None:
    """The Pillow format name of an accepted image type, judged by magic bytes alone."""
    return next((name for magic, name in _MAGIC if data.startswith(magic)), None)


def check_file_size(field: str, data: bytes) -> None:
    """The first per-image rule: the file's size in bytes."""
    if len(data) > MAX_FILE_BYTES:
        raise Refusal(
            "FILE_SIZE_EXCEEDS_LIMIT", f"{field} is {len(data)} bytes; limit {MAX_FILE_BYTES}"
        )


def inspect_image(field: str, data: bytes) -> Image.Image:
    """Apply the per-image rules to one uploaded file; return it decoded as RGB."""
    check_file_size(field, data)
    image_format = image_format_of(data)
    if image_format is None:
        raise Refusal("UNSUPPORTED_FILE_TYPES", f"{field} is not a JPEG, PNG or BMP file")
    try:
        image = Image.open(io.BytesIO(data), formats=[image_format])
        # An oversized image is refused on its header alone: decoding it is the costly
        # part and could be a decompression bomb.
        if max(image.size) < MAX_SIDE_EXCLUSIVE:
            image.load()
    except Image.DecompressionBombError as exc:  # the header claims an absurd size
        raise Refusal(
            "FILE_RESOLUTION_EXCEEDS_LIMITS", f"{field} claims an oversized resolution"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow's ways of saying "corrupt"
        raise Refusal("FILE_DECODING_FAILURE", f"{field} cannot be decoded") from exc
    width, height = image.size
    if min(width, height) <= MIN_SIDE_EXCLUSIVE[field]:
        raise Refusal(
            "ERROR_LOW_RESOLUTION",
            f"{field} is {width}x{height}; each side must exceed {MIN_SIDE_EXCLUSIVE[field]} px",
        )
    if max(width, height) >= MAX_SIDE_EXCLUSIVE:
        raise Refusal(
            "FILE_RESOLUTION_EXCEEDS_LIMITS",
            f"{field} is {width}x{height}; each side must be below {MAX_SIDE_EXCLUSIVE} px",
        )
    # The stored pixels, as a face detector sees them: an EXIF orientation tag is ignored,
    # so a sideways photo stays sideways here.
    rgb = image.convert("RGB")
    # The documentation refuses black-and-white images for `image_target` only.
    if field == TARGET_FIELD and (image.mode in _GRAY_MODES or is_grey(rgb)):
        raise Refusal("ERROR_UNSUPPORTED_GRAYSCALE_IMAGE", f"{field} is a black-and-white image")
    return rgb


def is_grey(rgb: Image.Image) -> bool:
    """True when the three channels of an RGB image are (nearly) equal everywhere."""
    factor = max(1, max(rgb.size) // _GRAY_SAMPLE_SIDE)
    pixels = np.asarray(rgb.reduce(factor), dtype=np.int16)
    spread = pixels.max(axis=2) - pixels.min(axis=2)
    return int(spread.max()) <= _GRAY_TOLERANCE
