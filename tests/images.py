"""Test images: the bundled public-domain portraits, and bad inputs made on the fly.

Each is made once per process (bytes are immutable; encoding a portrait costs 20-50 ms and
the tiers ask for the same few again and again)."""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache
from pathlib import Path

from PIL import Image

PORTRAITS = Path(__file__).resolve().parent.parent / "local_stack" / "portraits"


@cache
def portrait(name: str = "astronaut.png") -> bytes:
    """A bundled portrait's bytes (`astronaut.png`, `grace_hopper.jpg`)."""
    return (PORTRAITS / name).read_bytes()


def encode(img: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@cache
def as_jpeg(
    name: str = "astronaut.png", size: tuple[int, int] | None = None, quality: int = 90
) -> bytes:
    img = Image.open(io.BytesIO(portrait(name))).convert("RGB")
    if size:
        img = img.resize(size)
    return encode(img, "JPEG", quality=quality)


@cache
def as_png(name: str = "grace_hopper.jpg", size: tuple[int, int] | None = None) -> bytes:
    img = Image.open(io.BytesIO(portrait(name))).convert("RGB")
    if size:
        img = img.resize(size)
    return encode(img, "PNG")


@cache
def colour_noise(width: int, height: int, fmt: str = "PNG", seed: int = 0) -> bytes:
    """Incompressible colour noise: makes files as large as needed (no face in it)."""
    import random

    rng = random.Random(seed)
    return encode(Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3)), fmt)


@cache
def gradient(width: int = 400, height: int = 400) -> bytes:
    """A colour image with no face in it."""
    img = Image.new("RGB", (width, height))
    img.putdata(
        [(x * 255 // width, y * 255 // height, 128) for y in range(height) for x in range(width)]
    )
    return encode(img, "JPEG")


@cache
def grayscale_l() -> bytes:
    return encode(Image.open(io.BytesIO(portrait())).convert("L"), "JPEG")


@cache
def grayscale_rgb() -> bytes:
    """A grayscale picture stored as RGB with three equal channels."""
    return encode(Image.open(io.BytesIO(portrait())).convert("L").convert("RGB"), "JPEG")


@cache
def cmyk_jpeg() -> bytes:
    return encode(Image.open(io.BytesIO(portrait())).convert("CMYK"), "JPEG")


@cache
def png_16bit_gray() -> bytes:
    return encode(Image.open(io.BytesIO(portrait())).convert("I;16"), "PNG")


@cache
def truncated_jpeg() -> bytes:
    data = as_jpeg()
    return data[: len(data) // 2]


@cache
def png_with_bad_crc() -> bytes:
    data = bytearray(as_png(size=(300, 300)))
    idat = data.find(b"IDAT")
    length = struct.unpack(">I", data[idat - 4 : idat])[0]
    crc_at = idat + 4 + length
    data[crc_at : crc_at + 4] = struct.pack(">I", (zlib.crc32(b"x") & 0xFFFFFFFF))
    data[idat + 10] ^= 0xFF  # corrupt the compressed data too
    return bytes(data)


@cache
def webp() -> bytes:
    return encode(Image.open(io.BytesIO(portrait())).convert("RGB"), "WEBP")


@cache
def gif() -> bytes:
    return encode(Image.open(io.BytesIO(portrait())).convert("P"), "GIF")


@cache
def heic_signature() -> bytes:
    """The start of an HEIC file (Pillow cannot write HEIC): enough for magic-byte sniffing."""
    return b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64


@cache
def decompression_bomb() -> bytes:
    """A PNG header claiming 60000 x 60000 px, in a few hundred bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def padded_to(data: bytes, size: int) -> bytes:
    """A valid JPEG grown to exactly `size` bytes (trailing bytes after EOI are ignored)."""
    assert len(data) <= size
    return data + b"\x00" * (size - len(data))
