"""Image types by magic bytes: never by file name or declared Content-Type."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageFormat:
    """A supported image type."""

    name: str  # Pillow's format name, as written in result documents
    extension: str
    content_type: str
    sendable: bool = True
    """False for a format the API refuses: auto-fit converts it, the strict rules reject it."""


JPEG = ImageFormat("JPEG", "jpg", "image/jpeg")
PNG = ImageFormat("PNG", "png", "image/png")
BMP = ImageFormat("BMP", "bmp", "image/bmp")
WEBP = ImageFormat("WEBP", "webp", "image/webp", sendable=False)
AVIF = ImageFormat("AVIF", "avif", "image/avif", sendable=False)
HEIF = ImageFormat("HEIF", "heic", "image/heic", sendable=False)

# ISO media ("ftyp") brands of still images, HEVC-coded (HEIF) or AV1-coded (AVIF).
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_GENERIC_BRANDS = frozenset({b"mif1", b"msf1", b"mif2", b"miaf"})
SNIFF_BYTES = 64
"""How many leading bytes `sniff` needs to tell every format apart."""

# Formats people commonly upload by mistake, named so the error says what the file really is.
_UNSUPPORTED = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
)


def sniff(head: bytes) -> ImageFormat | None:
    """Return the known format (sendable or convertible) whose signature starts `head`."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"BM") and len(head) >= 14:
        return BMP
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        return _iso_media_format(head)
    return None


def sniff_sendable(head: bytes) -> ImageFormat | None:
    """Like `sniff`, but only the formats the API itself takes (JPEG, PNG, BMP)."""
    image_format = sniff(head)
    return image_format if image_format is not None and image_format.sendable else None


def _iso_media_format(head: bytes) -> ImageFormat | None:
    """HEIF or AVIF from an `ftyp` box: its major brand, else its compatible brands."""
    box_size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    # Compatible brands follow the major brand and its 4-byte minor version.
    brands = [head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)]
    for brand in (major, *brands):
        if brand in _AVIF_BRANDS:
            return AVIF
        if brand in _HEIF_BRANDS:
            return HEIF
    return HEIF if major in _GENERIC_BRANDS else None


def describe(head: bytes) -> str:
    """Name what an unsupported file looks like, for error messages."""
    if not head:
        return "an empty file"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[4:8] == b"ftyp":
        kind = _iso_media_format(head)
        if kind is None:
            return "an ISO media file"
        return "an AVIF image" if kind is AVIF else "a HEIC/HEIF image"
    for signature, name in _UNSUPPORTED:
        if head.startswith(signature):
            return f"a {name} file"
    if all(32 <= byte < 127 or byte in b"\t\r\n" for byte in head[:64]):
        return "a text file"
    return "not a JPEG, PNG or BMP image"
