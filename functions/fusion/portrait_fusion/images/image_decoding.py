"""Opening an input with Pillow: the HEIF plugin on demand, the EXIF orientation, decode slots.

Everything here reads headers only, except `decode_slot`, which bounds how many large
images are decoded at once (a batch works on two pairs at a time).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING

from portrait_fusion.images.image_format import HEIF, ImageFormat

if TYPE_CHECKING:
    from PIL.Image import Image, Transpose

ORIENTATION_TAG = 0x0112
UPRIGHT = 1
# A decode this large (in pixels, as decoded) waits for its slot; smaller ones run at once.
LARGE_DECODE_PIXELS = 4_000_000
_large_decodes = threading.BoundedSemaphore(1)
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
_MMAP_THRESHOLD_BYTES = 4 * 2**20
_heif_lock = threading.Lock()


def preload() -> None:
    """Import Pillow and the plugins of every format the API takes (JPEG, PNG, BMP), which
    this module otherwise imports on first use: a warm-up calls it so that a new execution
    environment's first pair (or a SnapStart snapshot) finds them loaded."""
    from PIL import Image, ImageChops  # noqa: F401 - ImageChops judges grayscale

    Image.preinit()


def open_image(data: bytes, image_format: ImageFormat) -> Image:
    """Open `data` (header only, nothing decoded yet) with the plugin of its sniffed format."""
    from PIL import Image

    if image_format is HEIF:
        with _heif_lock:
            _register_heif()
    return Image.open(io.BytesIO(data), formats=[image_format.name])


@cache
def _register_heif() -> None:
    """Load the HEIF decoder the first time a HEIF input is seen: it is a large import that
    no other input needs."""
    import pi_heif

    pi_heif.register_heif_opener()


def orientation(img: Image) -> int:
    """The EXIF orientation (1-8) the stored pixels must be turned by to stand upright.

    Read from the raw EXIF block, never `getexif()`: on a PNG that decodes every pixel.
    The HEIF decoder applies the file's own rotation itself and resets the tag to 1.
    """
    from PIL import Image

    raw = img.info.get("exif")
    if not isinstance(raw, bytes | bytearray) or not raw:
        return UPRIGHT
    exif = Image.Exif()
    exif.load(bytes(raw))
    value = exif.get(ORIENTATION_TAG, UPRIGHT)
    return value if isinstance(value, int) and 1 <= value <= 8 else UPRIGHT


def original_orientation(img: Image) -> int:
    """The orientation the file declared, even where the decoder already applied it."""
    declared = img.info.get("original_orientation")
    if isinstance(declared, int) and 1 <= declared <= 8:
        return declared
    return orientation(img)


def transposition(value: int) -> Transpose | None:
    """The transpose that turns pixels stored with EXIF orientation `value` upright."""
    from PIL.Image import Transpose

    return {
        2: Transpose.FLIP_LEFT_RIGHT,
        3: Transpose.ROTATE_180,
        4: Transpose.FLIP_TOP_BOTTOM,
        5: Transpose.TRANSPOSE,
        6: Transpose.ROTATE_270,
        7: Transpose.TRANSVERSE,
        8: Transpose.ROTATE_90,
    }.get(value)


def swaps_sides(value: int) -> bool:
    """True when orientation `value` turns the image by a quarter (width and height swap)."""
    return value in (5, 6, 7, 8)


@contextmanager
def decode_slot(pixels: int) -> Iterator[None]:
    """Hold a slot while decoding `pixels`: large decodes run one at a time per process, so
    two pairs at once peak at one large image's memory, not two."""
    if pixels < LARGE_DECODE_PIXELS:
        yield
        return
    _return_large_blocks_to_the_system()
    with _large_decodes:
        yield


@cache
def _return_large_blocks_to_the_system() -> None:
    """Make glibc map every block of 4 MiB or more on its own, and unmap it when freed.

    By default glibc raises that threshold each time such a block is freed, so the next
    image's blocks come from per-thread heaps that never shrink: two decodes one after the
    other, on two threads, then cost as much as two at once (measured: 599 MB instead of
    286 MB). Outside glibc this does nothing.
    """
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
    except (OSError, AttributeError):  # not glibc
        return
