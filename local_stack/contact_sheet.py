"""Contact sheets: a pair's pictures side by side under a heading, and an overview of many.

A sheet is one row of labelled panels (target | template | result); a panel without a
picture shows a message instead, e.g. why there is no result. Text uses Pillow's bundled
scalable font, so the sheets look the same on every machine.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

Tone = Literal["good", "bad", "neutral"]

SHEET_PANEL = (300, 340)
OVERVIEW_PANEL = (200, 228)
_MARGIN = 16
_GUTTER = 12
_LINE_GAP = 4
_BACKGROUND = (255, 255, 255)
_INK = (30, 30, 30)
_MUTED = (105, 105, 105)
_FRAME = (238, 238, 238)
_TONES: dict[Tone, tuple[int, int, int]] = {
    "good": (20, 120, 50),
    "bad": (185, 30, 30),
    "neutral": (105, 105, 105),
}
_FAILURE_FILL = (252, 234, 234)
_AFTER_UNDERSCORES = re.compile(r"[^_]*_+|[^_]+")


@dataclass(frozen=True)
class Panel:
    """One column: a label above, a picture (or ``message`` lines) in the box, a caption below
    (wrapped onto as many lines as it needs)."""

    label: str
    caption: str
    image: Image.Image | None = None
    message: tuple[str, ...] = ()
    """Shown instead of a picture: a headline and a key line (e.g. an error code) in the
    sheet's tone, then details."""


@dataclass(frozen=True)
class Sheet:
    """A row of panels under a title, a one-line story and a status in its tone."""

    title: str
    story: str
    status: str
    tone: Tone
    panels: tuple[Panel, ...]


def render(sheet: Sheet, panel_size: tuple[int, int] = SHEET_PANEL) -> Image.Image:
    """The sheet as an RGB image; panels are ``panel_size`` boxes the pictures are fitted in."""
    box_w, box_h = panel_size
    scale = box_w / SHEET_PANEL[0]  # text shrinks with the panels, down to a readable floor
    title, body, small = (_font(max(round(size * scale), 12)) for size in (24, 16, 13))
    width = 2 * _MARGIN + len(sheet.panels) * box_w + (len(sheet.panels) - 1) * _GUTTER
    text_width = width - 2 * _MARGIN
    heading = [
        (sheet.title, title, _INK),
        *((line, body, _MUTED) for line in _wrap(sheet.story, body, text_width)),
        *((line, body, _TONES[sheet.tone]) for line in _wrap(sheet.status, body, text_width)),
    ]
    captions = [_wrap(panel.caption, small, box_w) for panel in sheet.panels]
    label_h = _height(body) + _LINE_GAP
    caption_h = max(len(lines) for lines in captions) * (_height(small) + _LINE_GAP)
    heading_h = sum(_height(font) + _LINE_GAP for _, font, _ in heading)
    panels_top = _MARGIN + heading_h + _GUTTER
    height = panels_top + label_h + box_h + caption_h + _MARGIN
    canvas = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    y = _MARGIN
    for line, font, colour in heading:
        draw.text((_MARGIN, y), line, font=font, fill=colour)
        y += _height(font) + _LINE_GAP
    for index, (panel, caption) in enumerate(zip(sheet.panels, captions, strict=True)):
        x = _MARGIN + index * (box_w + _GUTTER)
        draw.text((x, panels_top), panel.label, font=body, fill=_INK)
        box = (x, panels_top + label_h, x + box_w, panels_top + label_h + box_h)
        if panel.image is not None:
            _draw_picture(canvas, panel.image, box)
        else:
            _draw_message(draw, panel.message, box, _TONES[sheet.tone], scale)
        y = box[3] + _LINE_GAP // 2
        for line in caption:  # wrapped, never cut off
            draw.text((x, y), line, font=small, fill=_MUTED)
            y += _height(small) + _LINE_GAP
    return canvas


def overview(title: str, subtitle: str, sheets: Sequence[Sheet]) -> Image.Image:
    """Every sheet, with smaller panels, stacked under a title; rows divided by a rule."""
    rows = [render(sheet, OVERVIEW_PANEL) for sheet in sheets]
    width = max(row.width for row in rows)
    heading, body = _font(26), _font(15)
    head_h = _MARGIN + _height(heading) + _LINE_GAP + _height(body) + _MARGIN // 2
    canvas = Image.new("RGB", (width, head_h + sum(row.height + 1 for row in rows)), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((_MARGIN, _MARGIN), title, font=heading, fill=_INK)
    draw.text((_MARGIN, _MARGIN + _height(heading) + _LINE_GAP), subtitle, font=body, fill=_MUTED)
    y = head_h
    for row in rows:
        draw.line([(_MARGIN, y), (width - _MARGIN, y)], fill=_FRAME)
        canvas.paste(row, (0, y + 1))
        y += row.height + 1
    return canvas


def save_png(image: Image.Image, path: Path, *, max_bytes: int | None = None) -> None:
    """Write ``image`` as PNG.

    With ``max_bytes`` (a copy meant for a repository), the image is reduced to a 256-colour
    palette, which suits these mostly flat sheets, and shrunk step by step until it fits.
    """
    if max_bytes is None:
        image.save(path, "PNG")  # zlib's default level: optimize=True costs seconds per sheet
        return
    smaller = image
    while True:
        buffer = io.BytesIO()
        smaller.quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(buffer, "PNG", optimize=True)
        if buffer.tell() <= max_bytes or smaller.width < 200:
            break
        smaller = smaller.resize(
            (smaller.width * 4 // 5, smaller.height * 4 // 5), Image.Resampling.LANCZOS
        )
    if buffer.tell() > max_bytes:
        raise ValueError(f"cannot fit {path.name} into {max_bytes} bytes")
    path.write_bytes(buffer.getvalue())


def _draw_picture(
    canvas: Image.Image, picture: Image.Image, box: tuple[int, int, int, int]
) -> None:
    x0, y0, x1, y1 = box
    ImageDraw.Draw(canvas).rectangle(box, fill=_FRAME)
    fitted = picture.convert("RGB")
    fitted.thumbnail((x1 - x0, y1 - y0), Image.Resampling.LANCZOS)
    canvas.paste(fitted, (x0 + (x1 - x0 - fitted.width) // 2, y0 + (y1 - y0 - fitted.height) // 2))


def _draw_message(
    draw: ImageDraw.ImageDraw,
    lines: tuple[str, ...],
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int],
    scale: float,
) -> None:
    """A tinted box: the headline large, the key line (shrunk to fit) and details wrapped."""
    x0, y0, x1, y1 = box
    draw.rectangle(box, fill=_FAILURE_FILL, outline=colour, width=2)
    inner = x1 - x0 - 2 * _GUTTER
    detail = _font(max(round(13 * scale), 12))
    rows: list[tuple[str, ImageFont.FreeTypeFont, tuple[int, int, int]]] = []
    for index, line in enumerate(lines):
        if index == 0:
            rows.append((line, _font(max(round(28 * scale), 14)), colour))
        else:
            font = _fitting_font(line, inner, max(round(16 * scale), 12)) if index == 1 else detail
            rows.extend(
                (part, font, colour if index == 1 else _INK) for part in _wrap(line, font, inner)
            )
    y = y0 + (y1 - y0 - sum(_height(font) + _LINE_GAP for _, font, _ in rows)) // 2
    for text, font, fill in rows:
        draw.text(((x0 + x1) // 2, y), text, font=font, fill=fill, anchor="ma")
        y += _height(font) + _LINE_GAP


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size)
    assert isinstance(font, ImageFont.FreeTypeFont)  # Pillow is built with FreeType here
    return font


def _fitting_font(text: str, width: int, size: int) -> ImageFont.FreeTypeFont:
    """The font at ``size``, or smaller until ``text`` fits in ``width``; 12 px at least,
    so a longer text is wrapped rather than made unreadable."""
    while size > 12 and _font(size).getlength(text) > width:
        size -= 1
    return _font(size)


def _height(font: ImageFont.FreeTypeFont) -> int:
    ascent, descent = font.getmetrics()
    return ascent + descent


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels; a word too long for a line of its own (an error
    code) is broken after its underscores."""
    lines: list[str] = []
    for word in text.split():
        pieces = [word] if font.getlength(word) <= width else _AFTER_UNDERSCORES.findall(word)
        for index, piece in enumerate(pieces):
            candidate = lines[-1] + (" " if index == 0 else "") + piece if lines else ""
            if lines and font.getlength(candidate) <= width:
                lines[-1] = candidate
            else:
                lines.append(piece)
    return lines
