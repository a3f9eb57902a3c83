"""Image types by magic bytes: never by file name or declared Content-Type."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageFormat:
    """A supported image type."""

    name: str  # Pillow's format name, as written in result documents
    extension: str
    content_type: str


JPEG = ImageFormat("JPEG", "jpg", "image/jpeg")
PNG = ImageFormat("PNG", "png", "image/png")
BMP = ImageFormat("BMP", "bmp", "image/bmp")

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
    """Return the supported format whose signature starts `head`, else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"BM") and len(head) >= 14:
        return BMP
    return None


def describe(head: bytes) -> str:
    """Name what an unsupported file looks like, for error messages."""
    if not head:
        return "an empty file"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("ascii", "replace")
        return (
            "a HEIC/HEIF image" if brand.startswith(("hei", "mif", "hev")) else "an ISO media file"
        )
    for signature, name in _UNSUPPORTED:
        if head.startswith(signature):
            return f"a {name} file"
    if all(32 <= byte < 127 or byte in b"\t\r\n" for byte in head[:64]):
        return "a text file"
    return "not a JPEG, PNG or BMP image"
