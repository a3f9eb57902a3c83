"""The pairs ``make demo`` runs: the bundled public-domain portraits, and bad inputs drawn here.

The grayscale, faceless and oversized inputs are made with Pillow at run time, the same
bytes every time, so the repository holds no binaries beyond the two portraits (see
``portraits/SOURCES.md``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageDraw, ImageFilter

PORTRAITS = Path(__file__).resolve().parent / "portraits"
HOPPER = "grace_hopper.jpg"
ASTRONAUT = "astronaut.png"
OVERSIZED_SIDE = 4400  # over the API's 4096 px limit: AUTO_FIT has to shrink it
_ORIENTATION_TAG = 0x0112

Role = Literal["target", "template"]


@dataclass(frozen=True)
class DemoImage:
    """One input file: what it is, its bytes and the extension it is uploaded with."""

    label: str
    data: bytes
    ext: str

    def stored(self) -> Image.Image:
        """The decoded picture as RGB, as its pixels are stored (an EXIF orientation ignored)."""
        if self.data[4:12] == b"ftypheic":
            import pi_heif

            pi_heif.register_heif_opener()
        return Image.open(io.BytesIO(self.data)).convert("RGB")


@dataclass(frozen=True)
class Expected:
    """How a pair should end: its status and, for a failure, the stage and acceptable codes."""

    status: Literal["succeeded", "failed"]
    stage: str | None = None
    codes: frozenset[str] = frozenset()

    def met_by(self, document: Mapping[str, Any] | None) -> bool:
        """Whether a result document (None: none was written) ends the way expected."""
        if document is None or document["status"] != self.status:
            return False
        error = document["error"]
        if error is None:
            return self.stage is None
        return error["stage"] == self.stage and error["code"] in self.codes

    def describe(self) -> str:
        """E.g. ``failed/api (ERROR_NO_FACE_IN_FILE)``."""
        if self.stage is None:
            return self.status
        return f"{self.status}/{self.stage} ({' or '.join(sorted(self.codes))})"


@dataclass(frozen=True)
class DemoPair:
    """A pair to upload: its inputs, the similarity put on the target, and what should happen.

    ``first`` is the half uploaded first; the other one follows once every pair's first
    half is in, so each pair waits for its partner for a moment.
    """

    pair_id: str
    story: str
    target: Callable[[], DemoImage] = field(repr=False)
    template: Callable[[], DemoImage] = field(repr=False)
    similarity: float | None
    first: Role
    expected: Expected

    def image(self, role: Role) -> DemoImage:
        """The input for ``role``."""
        return self.target() if role == "target" else self.template()


@cache
def bundled(name: str) -> DemoImage:
    """A bundled portrait, byte for byte."""
    path = PORTRAITS / name
    return DemoImage(name, path.read_bytes(), path.suffix.lstrip("."))


@cache
def grayscale(name: str) -> DemoImage:
    """A bundled portrait in black and white (JPEG, mode L)."""
    picture = bundled(name).stored().convert("L")
    return DemoImage(f"{name}, grayscale", _encode(picture, "JPEG", quality=90), "jpg")


@cache
def oversized(name: str, longest_side: int = OVERSIZED_SIDE) -> DemoImage:
    """A bundled portrait enlarged until its longest side is ``longest_side`` px (JPEG)."""
    picture = bundled(name).stored()
    scale = longest_side / max(picture.size)
    enlarged = picture.resize(
        (round(picture.width * scale), round(picture.height * scale)), Image.Resampling.BICUBIC
    )
    label = f"{name} at {enlarged.width}x{enlarged.height}"
    return DemoImage(label, _encode(enlarged, "JPEG", quality=90), "jpg")


@cache
def phone_rotated(name: str) -> DemoImage:
    """A bundled portrait as a phone held sideways saves it: the pixels stored turned a
    quarter, with EXIF orientation 6 telling viewers (and the pipeline) to turn them back."""
    stored = bundled(name).stored().transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[_ORIENTATION_TAG] = 6
    data = _encode(stored, "JPEG", quality=90, exif=exif.tobytes())
    return DemoImage(f"{name} as a phone stores it: sideways, EXIF orientation 6", data, "jpg")


@cache
def heic(name: str) -> DemoImage:
    """A bundled portrait as an iPhone saves it: HEIC (encoded here with pillow-heif)."""
    import pillow_heif

    buffer = io.BytesIO()
    pillow_heif.from_pillow(bundled(name).stored()).save(buffer, quality=85)
    return DemoImage(f"{name} as HEIC", buffer.getvalue(), "heic")


@cache
def faceless_scene(width: int = 640, height: int = 480) -> DemoImage:
    """A colour landscape with nobody in it: a valid template for every rule but the face."""
    scene = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(scene)
    horizon = height * 3 // 5
    for y in range(horizon):  # sky: deep blue at the top to haze at the horizon
        t = y / horizon
        draw.line([(0, y), (width, y)], fill=_mix((40, 90, 170), (200, 220, 235), t))
    draw.ellipse((width * 0.7, height * 0.08, width * 0.82, height * 0.24), fill=(255, 214, 120))
    ridges = [
        ((110, 120, 140), 0.52, [(0.0, 0.12), (0.2, 0.22), (0.45, 0.1), (0.62, 0.2), (1.0, 0.08)]),
        ((70, 110, 80), 0.6, [(0.0, 0.06), (0.3, 0.12), (0.55, 0.04), (0.8, 0.1), (1.0, 0.05)]),
    ]
    for colour, base, peaks in ridges:  # each ridge: peaks above its base line, in sky heights
        outline = [(x * width, (base - h) * height) for x, h in peaks]
        draw.polygon([(0, height), *outline, (width, height)], fill=colour)
    for y in range(horizon + height // 10, height):  # a lake reflecting the sky, darker
        t = (y - horizon) / (height - horizon)
        draw.line([(0, y), (width, y)], fill=_mix((60, 100, 150), (30, 60, 100), t))
    softened = scene.filter(ImageFilter.GaussianBlur(1.5))
    return DemoImage("a drawn landscape", _encode(softened, "JPEG", quality=90), "jpg")


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _encode(picture: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **options)
    return buffer.getvalue()


SUCCEEDS = Expected("succeeded")
DEMO_PAIRS: tuple[DemoPair, ...] = (
    DemoPair(
        "similarity-0.3",
        "Grace Hopper's face on the astronaut portrait, a little",
        target=lambda: bundled(HOPPER),
        template=lambda: bundled(ASTRONAUT),
        similarity=0.3,
        first="target",
        expected=SUCCEEDS,
    ),
    DemoPair(
        "similarity-1.0",
        "the same two portraits, as much of the target's face as possible",
        target=lambda: bundled(HOPPER),
        template=lambda: bundled(ASTRONAUT),
        similarity=1.0,
        first="template",
        expected=SUCCEEDS,
    ),
    DemoPair(
        "oversized-target",
        "a target over 4096 px: AUTO_FIT shrinks it before the call",
        target=lambda: oversized(ASTRONAUT),
        template=lambda: bundled(HOPPER),
        similarity=None,
        first="target",
        expected=SUCCEEDS,
    ),
    DemoPair(
        "phone-rotated-target",
        "a phone photo stored sideways, its EXIF orientation saying so: AUTO_FIT turns it "
        "upright before the call (and the whole face goes in)",
        target=lambda: phone_rotated(ASTRONAUT),
        template=lambda: bundled(HOPPER),
        similarity=1.0,
        first="target",
        expected=SUCCEEDS,
    ),
    DemoPair(
        "heic-template",
        "an iPhone HEIC template: AUTO_FIT converts it to JPEG",
        target=lambda: bundled(HOPPER),
        template=lambda: heic(ASTRONAUT),
        similarity=0.5,
        first="template",
        expected=SUCCEEDS,
    ),
    DemoPair(
        "grayscale-target",
        "a black-and-white target: the preflight refuses it, no API call",
        target=lambda: grayscale(HOPPER),
        template=lambda: bundled(ASTRONAUT),
        similarity=0.5,
        first="template",
        expected=Expected("failed", "preflight", frozenset({"ERROR_UNSUPPORTED_GRAYSCALE_IMAGE"})),
    ),
    DemoPair(
        "faceless-template",
        "a template without a face: the API refuses it",
        target=lambda: bundled(HOPPER),
        template=faceless_scene,
        similarity=0.5,
        first="target",
        # The real API has answered "no face" with either code (see the API contract).
        expected=Expected(
            "failed", "api", frozenset({"ERROR_NO_FACE_IN_FILE", "FILE_CONTENT_NON_COMPLIANCE"})
        ),
    ),
)
