"""The worst inputs auto-fit accepts, two pairs of them at once: the function's peak memory.

For each accepted format, the largest input auto-fit takes: as many pixels as its limits
allow (`AUTO_FIT_MAX_PIXELS`, and the decode budget for formats decoded at full size) and,
where trailing bytes can make it so, `AUTO_FIT_MAX_BYTES` of file. Each pair has it as both
target and template; two such pairs go to one handler process in one SQS batch (a batch runs
two messages at once), and its peak RSS (`VmHWM`) is the figure.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from PIL import Image

from benchmarks.figure import Figure
from benchmarks.sandbox import Sandbox
from benchmarks.workload import HANDLERS, Bench, Pair, new_pair_id, portrait_pair
from portrait_fusion.images.image_conversion import bytes_per_pixel
from portrait_fusion.images.preflight import (
    AUTO_FIT_MAX_BYTES,
    AUTO_FIT_MAX_PIXELS,
    DECODE_BUDGET_BYTES,
)
from tests.images import portrait

MEMORY_SIZE_MB = 1024  # the function's MemorySize in template.yaml
SHARE = 0.40  # the peak must stay below this share of it


@dataclass(frozen=True)
class WorstCase:
    """One accepted format at its limits."""

    label: str
    format_name: str  # Pillow's name, for the decode cost
    mode: str
    padded: bool  # whether trailing bytes bring the file to AUTO_FIT_MAX_BYTES


CASES = (
    WorstCase("JPEG", "JPEG", "RGB", padded=True),
    WorstCase("PNG (RGB)", "PNG", "RGB", padded=True),
    WorstCase("PNG (RGBA)", "PNG", "RGBA", padded=True),
    WorstCase("WebP", "WEBP", "RGB", padded=False),
    WorstCase("AVIF", "AVIF", "RGB", padded=False),
    WorstCase("HEIC", "HEIF", "RGB", padded=False),
)


def largest_size(case: WorstCase) -> tuple[int, int]:
    """The largest (width, height) auto-fit takes in this format and mode: as many pixels as
    the limits allow, at least 4096 px wide so that it has to be downscaled too."""
    if case.format_name == "JPEG":  # decoded at a reduced scale: only the pixel limit binds
        pixels = AUTO_FIT_MAX_PIXELS
    else:
        per_pixel = bytes_per_pixel(case.format_name, case.mode, resizing=True)
        pixels = min(AUTO_FIT_MAX_PIXELS, DECODE_BUDGET_BYTES // per_pixel)
    width = max(4096, math.isqrt(pixels))
    return width, pixels // width


@cache
def worst_input(case: WorstCase, size: tuple[int, int]) -> bytes:
    """A portrait filling most of a picture of `size`, encoded as `case` says."""
    width, height = size
    canvas = Image.new(case.mode, size, (70, 110, 160, 255)[: len(case.mode)])
    face_side = min(width, height) * 3 // 4
    face = Image.open(io.BytesIO(portrait("astronaut.png"))).convert(case.mode)
    face = face.resize((face_side, face_side), Image.Resampling.BILINEAR)
    canvas.paste(face, ((width - face_side) // 2, (height - face_side) // 2))
    buffer = io.BytesIO()
    if case.format_name == "HEIF":
        import pillow_heif

        pillow_heif.from_pillow(canvas).save(buffer, quality=70)
    else:
        canvas.save(buffer, format=case.format_name, quality=85)
    data = buffer.getvalue()
    if case.padded and len(data) < AUTO_FIT_MAX_BYTES:
        data += b"\x00" * (AUTO_FIT_MAX_BYTES - len(data))  # ignored after the image's end
    return data


def measure(
    bench: Bench, progress: Callable[[str], None], *, quick: bool = False
) -> dict[str, float]:
    """Peak RSS in MB of a new handler process given two worst pairs at once, per format."""
    peaks = {}
    for case in CASES[:1] if quick else CASES:  # quick: the code path, once
        width, height = (1500, 1200) if quick else largest_size(case)
        progress(f"worst inputs: {case.label}, {width} x {height} px, two pairs at once")
        data = worst_input(case, (width, height))
        pair = Pair(data, data)
        with Sandbox(HANDLERS["ours"], bench.env, bench.log_file) as box:
            warm = new_pair_id("worst-warm")
            box.invoke(bench.completing_event(warm, portrait_pair(1024)))
            ids = [new_pair_id("worst"), new_pair_id("worst")]
            # Untagged: these files are at the byte limit already; a comment would break it.
            events = [bench.completing_event(pair_id, pair, tag=False) for pair_id in ids]
            handled = box.invoke({"Records": [r for e in events for r in e["Records"]]})
        for pair_id in ids:  # merged or not (a face detector's verdict), each must have ended
            if bench.document(pair_id) is None:
                raise RuntimeError(f"{case.label}: pair {pair_id} left no result.json")
        peaks[f"{case.label}, {width} x {height} px, {len(data) / 2**20:.1f} MiB"] = (
            handled.peak_rss_mb
        )
    return peaks


def figures(peaks: dict[str, float]) -> list[Figure]:
    """The table's rows: the worst format against the target, then each format."""
    limit = SHARE * MEMORY_SIZE_MB
    worst = max(peaks.values(), default=math.nan)
    rows = [
        Figure(
            "peak RSS: worst accepted inputs, two pairs at once (ours only)",
            "MB",
            worst,
            math.nan,
            f"< {SHARE:.0%} of {MEMORY_SIZE_MB} MB",
            limit,
        )
    ]
    rows += [Figure(f"  worst {label}", "MB", peak, math.nan) for label, peak in peaks.items()]
    return rows
