"""The benchmark's chart, `bench.png`: paired bars against each target, drawn with Pillow (a
dependency already) rather than matplotlib (which is not)."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw, ImageFont

from benchmarks.figure import Figure, number

_WIDTH, _LEFT, _RIGHT, _ROW, _TOP = 1100, 380, 170, 70, 70
_OURS, _BASE, _MARK, _INK = (46, 110, 190), (170, 170, 170), (200, 40, 40), (30, 30, 30)


def chart(rows: list[Figure]) -> Image.Image:
    """Paired bars for each charted figure: ours (blue), the baseline (grey), the target (red)."""
    shown = [row for row in rows if row.chart and row.limit is not None]
    height = _TOP + _ROW * len(shown) + 30
    img = Image.new("RGB", (_WIDTH, height), "white")
    draw = ImageDraw.Draw(img)
    font, title = ImageFont.load_default(size=15), ImageFont.load_default(size=20)
    heading = "Portrait Fusion vs the naive baseline (performance targets)"
    draw.text((20, 18), heading, fill=_INK, font=title)
    span = _WIDTH - _LEFT - _RIGHT
    for index, row in enumerate(shown):
        top = _TOP + index * _ROW
        limit = row.limit if row.limit is not None else 0.0
        # A figure a run could not measure (NaN: e.g. a queue never seen waiting) has no bar.
        ours, base = (0.0 if math.isnan(v) else v for v in (row.ours, row.baseline))
        scale = span / max(ours, base, limit, 1e-9)
        draw.text((20, top + 2), row.chart, fill=_INK, font=font)
        verdict = "met" if row.met else "not met"
        draw.text((20, top + 24), f"target {row.target}: {verdict}", fill=_MARK, font=font)
        bars = [
            (
                top + offset,
                _LEFT + max(1, round(width * scale)),
                f"{who} {number(value)} {row.unit}",
            )
            for offset, width, value, who in (
                (0, ours, row.ours, "ours"),
                (24, base, row.baseline, "baseline"),
            )
        ]
        for (y, right, _), colour in zip(bars, (_OURS, _BASE), strict=True):
            draw.rectangle((_LEFT, y, right, y + 18), fill=colour)
        mark = _LEFT + round(limit * scale)
        draw.line((mark, top - 4, mark, top + 46), fill=_MARK, width=3)
        for y, right, label in bars:
            draw.rectangle(draw.textbbox((right + 6, y), label, font=font), fill="white")
            draw.text((right + 6, y), label, fill=_INK, font=font)
    draw.text(
        (20, height - 26),
        "Red line: the target for ours, in the figure's unit. Lower is better, except for the "
        "steady-state throughput.",
        fill=_INK,
        font=font,
    )
    return img
