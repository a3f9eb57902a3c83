"""A small but real face fusion: find both faces, lay the target's over the template's, blend.

Faces are found with OpenCV's frontal Haar cascade (largest face wins). The target is scaled
and shifted so its face box lands on the template's, colour-matched to the template's skin
in Lab space, and blended in through a soft-edged ellipse whose opacity is the similarity.
Only the face region is processed, so a 4000 px template costs little more than a 500 px one.
"""

from __future__ import annotations

import io
import queue
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

ResultFormat = Literal["JPEG", "PNG"]
FloatImage = npt.NDArray[np.float32]

DEFAULT_SIMILARITY = 0.5
_CASCADE_FILE = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
_DETECT_SIDE = 360  # faces are searched on a copy at most this big: fast, still precise
_MIN_FACE_FRACTION = 8  # a face smaller than 1/8 of the short side does not count
# The Haar box spans brow to mouth; the ellipse reaches a bit lower to take the chin along.
_ELLIPSE_AXES = (0.42, 0.56)
_ELLIPSE_DROP = 0.08
_EDGE = 0.16  # half-width of the ellipse's soft edge, as a fraction of the face width
_STD_RATIO_RANGE = (0.5, 2.0)  # keeps colour transfer sane on flat faces
_STATS_SIDE = 256  # colour statistics are sampled on a grid about this many points wide

# A cascade is not safe to share between threads; loading one takes ~30 ms. Keep a pool.
_cascades: queue.SimpleQueue[cv2.CascadeClassifier] = queue.SimpleQueue()


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in pixels."""

    x: int
    y: int
    w: int
    h: int

    @property
    def centre(self) -> tuple[float, float]:
        """The centre point (x, y)."""
        return self.x + self.w / 2, self.y + self.h / 2


def find_face(image: Image.Image) -> Box | None:
    """The largest well-supported frontal face in `image`, in its pixels; None if none."""
    grey = np.asarray(image.convert("L"))
    scale = min(1.0, _DETECT_SIDE / max(grey.shape))
    if scale < 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    grey = cv2.equalizeHist(grey)
    min_side = max(24, min(grey.shape) // _MIN_FACE_FRACTION)
    try:
        cascade = _cascades.get_nowait()
    except queue.Empty:
        cascade = cv2.CascadeClassifier(_CASCADE_FILE)
    try:
        faces, votes = cascade.detectMultiScale2(
            grey, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
        )
    finally:
        _cascades.put(cascade)
    if len(faces) == 0:
        return None
    # A big but weakly supported hit (a patch, a helmet) must not beat the real face.
    confident = [f for f, v in zip(faces, votes, strict=True) if v >= max(votes) / 2]
    x, y, w, h = (round(v / scale) for v in max(confident, key=lambda f: f[2] * f[3]))
    return Box(x, y, w, h)


@dataclass(frozen=True)
class _Ellipse:
    cx: float
    cy: float
    axis_x: float
    axis_y: float
    ramp: float  # half-width of the soft edge, in units of the radius

    @classmethod
    def around(cls, face: Box) -> _Ellipse:
        cx, cy = face.centre
        axis_x, axis_y = _ELLIPSE_AXES[0] * face.w, _ELLIPSE_AXES[1] * face.h
        return cls(cx, cy + _ELLIPSE_DROP * face.h, axis_x, axis_y, _EDGE * face.w / axis_x)


def blend_region(template_face: Box, width: int, height: int) -> Box:
    """The part of a `width` x `height` template that the blend can touch."""
    e = _Ellipse.around(template_face)
    half_w, half_h = e.axis_x * (1 + e.ramp), e.axis_y * (1 + e.ramp)
    x0, y0 = max(0, int(e.cx - half_w)), max(0, int(e.cy - half_h))
    x1, y1 = min(width, int(e.cx + half_w) + 1), min(height, int(e.cy + half_h) + 1)
    return Box(x0, y0, x1 - x0, y1 - y0)


def align(target: Image.Image, target_face: Box, template_face: Box, region: Box) -> FloatImage:
    """The target scaled and shifted so its face covers the template's, cropped to `region`.

    Returns float32 RGB in [0, 1], `region.h` x `region.w`.
    """
    scale = template_face.w / target_face.w
    (tx, ty), (px, py) = target_face.centre, template_face.centre
    matrix = np.array(
        [[scale, 0.0, px - scale * tx - region.x], [0.0, scale, py - scale * ty - region.y]],
        dtype=np.float32,
    )
    warped = cv2.warpAffine(
        np.asarray(target),
        matrix,
        (region.w, region.h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    return warped.astype(np.float32) / 255.0


def _mask(template_face: Box, region: Box) -> FloatImage:
    """The face ellipse over `region`: 1 inside, 0 outside, a smooth ramp across its edge.

    Computed from the elliptic radius rather than by blurring a drawn ellipse: a blur wide
    enough for a 2000 px face takes seconds, this takes milliseconds at any size.
    """
    e = _Ellipse.around(template_face)
    xs = (np.arange(region.x, region.x + region.w, dtype=np.float32) + 0.5 - e.cx) / e.axis_x
    ys = (np.arange(region.y, region.y + region.h, dtype=np.float32) + 0.5 - e.cy) / e.axis_y
    radius = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    t = np.clip((1 + e.ramp - radius) / (2 * e.ramp), 0.0, 1.0)
    return np.asarray(t * t * (3 - 2 * t), dtype=np.float32)  # smoothstep


def _lab(rgb: FloatImage) -> FloatImage:
    return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB), dtype=np.float32)


def _match_colours(source: FloatImage, reference: FloatImage, weight: FloatImage) -> FloatImage:
    """`source` with the weighted Lab mean and spread of `reference` (Reinhard transfer)."""
    # Means and spreads are measured on a sparse grid: the same figures, a fraction of the work.
    step = max(1, max(weight.shape) // _STATS_SIDE)
    w = weight[::step, ::step, None]
    total = float(w.sum()) or 1.0

    def stats(lab: FloatImage) -> tuple[FloatImage, FloatImage]:
        sample = lab[::step, ::step]
        mean = (sample * w).sum(axis=(0, 1)) / total
        std = np.sqrt(((sample - mean) ** 2 * w).sum(axis=(0, 1)) / total)
        return mean, std

    src_lab = _lab(source)
    src_mean, src_std = stats(src_lab)
    ref_mean, ref_std = stats(_lab(reference))
    ratio = np.clip(ref_std / np.maximum(src_std, 1e-3), *_STD_RATIO_RANGE)
    matched = ((src_lab - src_mean) * ratio + ref_mean).astype(np.float32)
    return np.clip(cv2.cvtColor(matched, cv2.COLOR_LAB2RGB), 0.0, 1.0)


def fuse(
    target: Image.Image,
    template: Image.Image,
    target_face: Box,
    template_face: Box,
    similarity: float,
) -> Image.Image:
    """The template with the target's face blended in; `similarity` 0 leaves it unchanged."""
    region = blend_region(template_face, *template.size)
    aligned = align(target, target_face, template_face, region)
    result = np.array(template)  # a writable copy
    scene = result[region.y : region.y + region.h, region.x : region.x + region.w]
    scene_f = scene.astype(np.float32) / 255.0
    mask = _mask(template_face, region)
    face = _match_colours(aligned, scene_f, mask)
    alpha = (similarity * mask)[..., None]
    blended = scene_f * (1.0 - alpha) + face * alpha
    scene[...] = np.clip(blended * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(result)


def encode(image: Image.Image, result_format: ResultFormat) -> bytes:
    """The result image file as the API returns it (before base64)."""
    buffer = io.BytesIO()
    if result_format == "JPEG":
        image.save(buffer, "JPEG", quality=92)
    else:
        image.save(buffer, "PNG", compress_level=1)  # speed over size: it is a local emulator
    return buffer.getvalue()
