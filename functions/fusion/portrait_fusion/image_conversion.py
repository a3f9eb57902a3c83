"""Turning any readable input into what the API takes: upright, 8-bit RGB, JPEG, within limits.

The expensive step is the decode. It is done once, at the smallest scale the format allows
(JPEG decodes at 1/2, 1/4 or 1/8 directly), inside a decode slot; the full-size pixels are
released as soon as a reduced copy exists, before anything else is done with them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portrait_fusion.image_decoding import decode_slot, swaps_sides, transposition

if TYPE_CHECKING:
    from PIL.Image import Image

_QUALITIES = (90, 80, 70)
_SHRINK = 0.8  # each further round scales the long side by this much
_WHITE = (255, 255, 255)
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})
_SIXTEEN_BIT_GRAY = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
_REDUCIBLE = frozenset({"L", "LA", "PA", "RGB", "RGBA", "CMYK", "I", "F", "YCbCr", "La", "RGBa"})


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
    """What the sent image must stay within."""

    max_bytes: int
    max_side: int
    min_side_exclusive: int


def upright_rgb(img: Image, orientation: int, size: Size) -> Image:
    """Decode `img` (opened, not loaded) into an upright 8-bit RGB image of `size` (upright).

    Closes `img`: its full-size pixels are dropped as soon as the reduced copy exists.
    """
    from PIL import Image

    stored = size.turned(orientation)  # the same size, in the stored pixels' orientation
    # JPEG decodes straight to the smallest DCT scale still at least this big.
    img.draft("RGB", (stored.width, stored.height))
    with decode_slot(img.width * img.height):
        img.load()
        reduced = _reduced(img, stored)
        img.close()
    rgb = _to_rgb(reduced)
    if rgb.size != (stored.width, stored.height):
        rgb = rgb.resize((stored.width, stored.height), Image.Resampling.LANCZOS)
    turn = transposition(orientation)
    return rgb.transpose(turn) if turn is not None else rgb


def _reduced(img: Image, stored: Size) -> Image:
    """A copy of `img` shrunk by a whole factor towards `stored` (no smaller), cheaply."""
    from PIL import Image

    factor = min(img.width // stored.width, img.height // stored.height)
    if img.mode in _SIXTEEN_BIT_GRAY:
        # 16-bit grey cannot be reduced, and converting it first would clip it to white.
        coarse = img.resize(
            (img.width // max(1, factor), img.height // max(1, factor)), Image.Resampling.BOX
        )
        return coarse.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if img.mode not in _REDUCIBLE:  # bilevel and palette images
        has_alpha = img.mode == "P" and "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
    return img.reduce(factor) if factor >= 2 else img.copy()


def _to_rgb(img: Image) -> Image:
    """8-bit RGB; transparent areas become white, as a viewer shows them."""
    from PIL import Image

    if img.mode in _ALPHA_MODES:
        rgba = img.convert("RGBA")
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
            img
            if size.long == max(img.size)
            else img.resize((size.width, size.height), Image.Resampling.LANCZOS)
        )
        for quality in _QUALITIES:
            buffer = io.BytesIO()
            resized.save(buffer, format="JPEG", quality=quality, optimize=True)
            if buffer.tell() <= limits.max_bytes:
                return buffer.getvalue()
        smaller = size.scaled_to(int(size.long * _SHRINK))
        if smaller.short <= limits.min_side_exclusive:
            return None
        size = smaller
