"""Turning any readable input into what the API takes: upright, 8-bit RGB, JPEG, within limits.

The expensive step is the decode. It is done once, at the smallest scale the format allows
(JPEG decodes at 1/2, 1/4 or 1/8 directly); the full-size pixels are released as soon as a
reduced copy exists, before anything else is done with them. The caller holds a decode slot.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portrait_fusion.images.image_decoding import swaps_sides, transposition

if TYPE_CHECKING:
    from PIL.Image import Image

_QUALITIES = (90, 80, 70)
_SHRINK = 0.8  # each further round scales the long side by this much
_WHITE = (255, 255, 255)
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})
_SIXTEEN_BIT_GRAY = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
_RESAMPLABLE = frozenset({"L", "LA", "PA", "RGB", "RGBA", "CMYK", "I", "F", "YCbCr", "La", "RGBa"})
# Peak bytes a pixel costs while decoding, measured with Pillow 13 and pi-heif 1.0: these
# decoders hold their own buffers beside the image; elsewhere it is Pillow's pixel storage
# (4 bytes for every mode of more than one band, and for 32-bit ones).
_DECODER_BYTES_PER_PIXEL = {"WEBP": 16, "AVIF": 9, "HEIF": 5}
_MODE_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


@dataclass(frozen=True)
class Size:
    """Width and height in pixels."""

    width: int
    height: int

    @property
    def long(self) -> int:
        """The longer side."""
        return max(self.width, self.height)

    @property
    def short(self) -> int:
        """The shorter side."""
        return min(self.width, self.height)

    @property
    def pair(self) -> tuple[int, int]:
        """(width, height), as Pillow takes a size."""
        return (self.width, self.height)

    def scaled_to(self, long_side: int) -> Size:
        """This shape with its long side at most `long_side` (never enlarged)."""
        if self.long <= long_side:
            return self
        scale = long_side / self.long
        return Size(max(1, round(self.width * scale)), max(1, round(self.height * scale)))

    def turned(self, orientation: int) -> Size:
        """The stored size seen through EXIF `orientation` (sides swap on a quarter turn)."""
        return Size(self.height, self.width) if swaps_sides(orientation) else self


@dataclass(frozen=True)
class FitLimits:
    """What the sent image must stay within (its sides are fitted before it is encoded)."""

    max_bytes: int
    min_side_exclusive: int


def plan_decode(
    img: Image, orientation: int, want: Size, min_side_exclusive: int, budget_bytes: int
) -> Size:
    """Choose the scale `img` (opened, not loaded) is decoded at; return that size, upright.

    A JPEG decodes at 1/2, 1/4 or 1/8 scale directly: at the smallest that still gives the
    wanted size, or, when that would break the decode budget, down to half the wanted size
    (the API needs < 4096 px, not 4095: an 8000 px photo is then sent at 4000 px). Other
    formats decode at full size.
    """
    if img.format == "JPEG":
        request = want
        full = _jpeg_decoded(img, want.turned(orientation))
        per_pixel = bytes_per_pixel("JPEG", img.mode, resizing=True)
        if full.width * full.height * per_pixel > budget_bytes:
            half = want.scaled_to(max(1, want.long // 2))
            request = half if half.short > min_side_exclusive else want
        img.draft("RGB", request.turned(orientation).pair)
    return Size(img.width, img.height).turned(orientation)


def _jpeg_decoded(img: Image, request: Size) -> Size:
    """The size Pillow's JPEG `draft` decodes at for `request` (largest of 1/8..1/1 that is
    still at least as big)."""
    fits = min(img.width // request.width, img.height // request.height)
    scale = next(s for s in (8, 4, 2, 1) if s <= max(1, fits))
    return Size(-(-img.width // scale), -(-img.height // scale))


def decode_cost(img: Image, format_name: str, *, resizing: bool) -> int:
    """Bytes of memory the decode of `img` (at its planned size) peaks at, as measured."""
    return img.width * img.height * bytes_per_pixel(format_name, img.mode, resizing=resizing)


def bytes_per_pixel(format_name: str, mode: str, *, resizing: bool) -> int:
    """What one pixel of this format and mode costs while it is decoded (and, with
    `resizing`, resampled: Pillow resamples alpha images on a premultiplied full-size copy)."""
    decoded = _DECODER_BYTES_PER_PIXEL.get(format_name, _MODE_BYTES_PER_PIXEL.get(mode, 4))
    return decoded + (4 if resizing and mode in _ALPHA_MODES else 0)


def upright_rgb(img: Image, orientation: int, size: Size) -> Image:
    """Decode `img` (opened, not loaded) into an upright 8-bit RGB image of `size` (upright).

    Closes `img`: its full-size pixels are dropped as soon as the reduced copy exists.
    """
    from PIL import Image

    stored = size.turned(orientation)  # the same size, in the stored pixels' orientation
    img.load()
    if img.size == stored.pair:
        shrunk = _normalised(img)
    else:
        shrunk = _shrunk(img, stored)
        img.close()
    rgb = _to_rgb(shrunk)
    if rgb.size != stored.pair:
        rgb = rgb.resize(stored.pair, Image.Resampling.LANCZOS)
    turn = transposition(orientation)
    return rgb.transpose(turn) if turn is not None else rgb


def _normalised(img: Image) -> Image:
    """`img` in a mode Pillow can resample and `_to_rgb` can turn into RGB."""
    if img.mode in _SIXTEEN_BIT_GRAY:
        # Converting 16-bit grey straight to 8 bits would clip it to white: scale it down.
        return img.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if img.mode in _RESAMPLABLE:
        return img
    has_alpha = img.mode == "P" and "transparency" in img.info
    return img.convert("RGBA" if has_alpha else "RGB")  # bilevel and palette images


def _shrunk(img: Image, stored: Size) -> Image:
    """A copy of `img` at `stored` size, made without any full-size intermediate."""
    from PIL import Image

    size = stored.pair
    if img.mode in _SIXTEEN_BIT_GRAY:
        return _normalised(img.resize(size, Image.Resampling.BOX))
    if img.mode not in _RESAMPLABLE:
        return _normalised(img.resize(size, Image.Resampling.NEAREST))
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _to_rgb(img: Image) -> Image:
    """8-bit RGB; transparent areas become white, as a viewer shows them."""
    from PIL import Image

    if img.mode in _ALPHA_MODES:
        rgba = img if img.mode == "RGBA" else img.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode in ("I", "F"):
        return img.point(lambda value: value * (1 / 256)).convert("L").convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def encode_within(img: Image, limits: FitLimits) -> bytes | None:
    """`img` as a JPEG of at most `limits.max_bytes`; lower quality first, then smaller, never
    down to the minimum side. None if even that does not fit."""
    from PIL import Image

    size = Size(img.width, img.height)
    while True:
        resized = (
            img if size.long == max(img.size) else img.resize(size.pair, Image.Resampling.LANCZOS)
        )
        for quality in _QUALITIES:
            buffer = io.BytesIO()
            # No `optimize`: its second pass holds a whole image's worth of buffers again.
            resized.save(buffer, format="JPEG", quality=quality)
            if buffer.tell() <= limits.max_bytes:
                return buffer.getvalue()
        smaller = size.scaled_to(int(size.long * _SHRINK))
        if smaller.short <= limits.min_side_exclusive:
            return None
        size = smaller
