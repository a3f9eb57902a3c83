"""Inputs as phones and browsers make them, made at test time: EXIF-rotated JPEGs, HEIC, AVIF,
WebP, and the PNG and JPEG variants (CMYK, 16-bit, palette, alpha) that need converting."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache

from PIL import Image

from tests.images import encode, portrait

ORIENTATION_TAG = 0x0112
# How a camera stores an upright scene for each EXIF orientation: the inverse of the turn
# a viewer applies (quarter turns swap direction, flips undo themselves).
_STORED = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
ORIENTATIONS = tuple(_STORED)


@cache
def upright(name: str = "astronaut.png", side: int = 512) -> Image.Image:
    """A bundled portrait, upright, RGB, `side` px on its long edge."""
    img = Image.open(io.BytesIO(portrait(name))).convert("RGB")
    scale = side / max(img.size)
    return img.resize((round(img.width * scale), round(img.height * scale)))


def exif_with_orientation(orientation: int) -> bytes:
    """An EXIF block holding only the orientation tag."""
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return exif.tobytes()


def stored_for(img: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera stores for upright `img` when it writes `orientation`."""
    turn = _STORED[orientation]
    return img.transpose(turn) if turn is not None else img


def phone_jpeg(orientation: int, img: Image.Image | None = None) -> bytes:
    """A JPEG of an upright portrait stored turned, with the EXIF tag that turns it back."""
    source = img if img is not None else upright()
    stored = stored_for(source, orientation)
    return encode(stored, "JPEG", quality=90, exif=exif_with_orientation(orientation))


def heic(img: Image.Image | None = None, orientation: int = 1) -> bytes:
    """A HEIC (HEVC-coded HEIF) file, as an iPhone saves it, encoded by pillow-heif."""
    import pillow_heif

    source = img if img is not None else upright()
    heif_file = pillow_heif.from_pillow(stored_for(source, orientation))
    buffer = io.BytesIO()
    heif_file.save(buffer, quality=85, exif=exif_with_orientation(orientation))
    return buffer.getvalue()


def avif(img: Image.Image | None = None) -> bytes:
    """An AVIF file (Pillow writes these natively)."""
    return encode(img if img is not None else upright(), "AVIF", quality=80)


def webp(img: Image.Image | None = None) -> bytes:
    """A lossy WebP file, as browsers save them."""
    return encode(img if img is not None else upright(), "WEBP", quality=85)


def cmyk_jpeg() -> bytes:
    """A CMYK JPEG, as print workflows export them."""
    return encode(upright().convert("CMYK"), "JPEG", quality=90)


def png_16bit_rgb() -> bytes:
    """A 48-bit (16 bits a channel) RGB PNG, written chunk by chunk: Pillow writes only 8."""
    import struct
    import zlib

    import numpy as np

    pixels = np.asarray(upright(), dtype=">u2") * 257  # 0..255 spread over 0..65535
    height, width = pixels.shape[:2]
    rows = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def png_16bit_gray() -> bytes:
    """A 16-bit grey PNG using the whole 0..65535 range."""
    import numpy as np

    levels = np.asarray(upright("grace_hopper.jpg").convert("L"), dtype=np.uint16) * 257
    return encode(Image.fromarray(levels), "PNG")


def palette_png() -> bytes:
    """An 8-bit palette PNG."""
    return encode(upright().quantize(256), "PNG")


def alpha_png() -> bytes:
    """An RGBA PNG whose border is transparent, as cut-out portraits are."""
    img = upright().convert("RGBA")
    alpha = Image.new("L", img.size, 0)
    alpha.paste(255, (16, 16, img.width - 16, img.height - 16))
    img.putalpha(alpha)
    return encode(img, "PNG")


def gray_template() -> bytes:
    """A black-and-white portrait (mode L JPEG)."""
    return encode(upright("grace_hopper.jpg").convert("L"), "JPEG", quality=90)


CONVERTIBLE: dict[str, Callable[[], bytes]] = {
    "heic": heic,
    "avif": avif,
    "webp": webp,
    "cmyk-jpeg": cmyk_jpeg,
    "png-16bit-rgb": png_16bit_rgb,
    "png-palette": palette_png,
    "png-alpha": alpha_png,
}
"""Every input kind the API refuses that auto-fit converts, by name."""
