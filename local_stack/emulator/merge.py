"""A small but real face fusion: the target's face aligned onto the template's and blended in.

1. Align: the target is rotated, scaled and shifted so that its eyes land on the template's
   eyes (or, when either face's eyes were not found, its face box on the template's).
2. Cut: the face is the part of the template's face ellipse that the aligned target's face
   ellipse also covers, so no hair or background of the target comes along.
3. Colour: the target's face takes the template face's Lab mean and spread (Reinhard).
4. Blend: Poisson blending (`cv2.seamlessClone`) keeps the target's features and takes
   the template's colours at the cut's edge, so there is no seam, no halo and no double
   outline.
5. Similarity: the blended face is laid over the template's at an opacity that grows with
   `source_similarity` (`opacity`): 0 gives the template pixel for pixel, 0.3 about half of
   the target's face, 1 the whole blended face.

Only the face's region is processed, and the Poisson solve runs on a copy at most
`_POISSON_SIDE` px wide (its correction is smooth, so it scales back up losslessly in effect):
a 4000 px template costs little more than a 500 px one. Everything is deterministic.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from local_stack.emulator.faces import Box, Face

ResultFormat = Literal["JPEG", "PNG"]
FloatImage = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float64]

DEFAULT_SIMILARITY = 0.5
# The face ellipse in a Haar box, which spans forehead (or a hat's brim) to chin: a little
# narrower than the box (the cheeks' edge), from the brow to the box's lower edge. So the
# merge never touches a pixel outside the template's face box.
_ELLIPSE_AXES = (0.4, 0.44)
_ELLIPSE_DROP = 0.06
_FEATHER = 0.12  # the blend fades out over the ellipse's outer 12 %, hiding any residue
_EYE_SCALE_RANGE = (0.6, 1.6)  # eyes' scale / boxes' scale; outside it, the eyes were wrong
_OPACITY_EXPONENT = 0.6  # see `opacity`
_POISSON_SIDE = 384
_STD_RATIO_RANGE = (0.5, 2.0)  # keeps colour transfer sane on flat faces
_STATS_SIDE = 256  # colour statistics are sampled on a grid about this many points wide


@dataclass(frozen=True)
class _Ellipse:
    """A face's ellipse in the picture's pixels."""

    cx: float
    cy: float
    axis_x: float
    axis_y: float

    @classmethod
    def around(cls, box: Box) -> _Ellipse:
        cx, cy = box.centre
        return cls(
            cx, cy + _ELLIPSE_DROP * box.h, _ELLIPSE_AXES[0] * box.w, _ELLIPSE_AXES[1] * box.h
        )

    def radius(self, xs: FloatImage, ys: FloatImage) -> FloatImage:
        """The elliptic radius of each point: below 1 inside, 1 on the ellipse."""
        return np.sqrt(((xs - self.cx) / self.axis_x) ** 2 + ((ys - self.cy) / self.axis_y) ** 2)


def placement(target: Face, template: Face) -> Matrix:
    """The 2x3 affine matrix that takes the target's pixels onto the template's face.

    Eyes onto eyes (a turn, a scale and a shift) when both faces have eyes whose distance
    agrees with their boxes'; otherwise box onto box (a scale and a shift).
    """
    scale, angle = template.box.w / target.box.w, 0.0
    source, destination = target.box.centre, template.box.centre
    if target.eyes is not None and template.eyes is not None:
        eye_scale = template.eyes.distance / target.eyes.distance
        if _EYE_SCALE_RANGE[0] <= eye_scale / scale <= _EYE_SCALE_RANGE[1]:
            scale, angle = eye_scale, template.eyes.angle - target.eyes.angle
            source, destination = target.eyes.midpoint, template.eyes.midpoint
    turn = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shift = np.asarray(destination) - turn @ np.asarray(source)
    return np.hstack([turn, shift[:, None]])


def face_region(template_face: Face, width: int, height: int) -> Box:
    """The part of a `width` x `height` template that the blend can touch."""
    e = _Ellipse.around(template_face.box)
    x0, y0 = max(0, int(e.cx - e.axis_x) - 2), max(0, int(e.cy - e.axis_y) - 2)
    x1, y1 = min(width, int(e.cx + e.axis_x) + 3), min(height, int(e.cy + e.axis_y) + 3)
    return Box(x0, y0, x1 - x0, y1 - y0)


@dataclass(frozen=True)
class Aligned:
    """The target's pixels laid onto a region of the template, and each pixel's weight:
    1 well inside both faces' ellipses, 0 outside either, a smooth ramp at the edge."""

    pixels: npt.NDArray[np.uint8]
    weight: FloatImage


def align(target: Image.Image, target_face: Face, template_face: Face, region: Box) -> Aligned:
    """The target's face placed on the template's (see `placement`), over `region`."""
    matrix = placement(target_face, template_face)
    shifted = matrix.copy()
    shifted[:, 2] -= (region.x, region.y)
    pixels = cv2.warpAffine(
        np.asarray(target, dtype=np.uint8),
        shifted,
        (region.w, region.h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    ys, xs = np.mgrid[region.y : region.y + region.h, region.x : region.x + region.w]
    xs_f, ys_f = xs.astype(np.float32) + 0.5, ys.astype(np.float32) + 0.5
    # The target's ellipse is drawn in the target's pixels: map each point back there.
    back = cv2.invertAffineTransform(matrix)
    source_x = back[0, 0] * xs_f + back[0, 1] * ys_f + back[0, 2]
    source_y = back[1, 0] * xs_f + back[1, 1] * ys_f + back[1, 2]
    radius = np.maximum(
        _Ellipse.around(template_face.box).radius(xs_f, ys_f),
        _Ellipse.around(target_face.box).radius(source_x, source_y),
    )
    t = np.clip((1.0 - radius) / _FEATHER, 0.0, 1.0)
    weight = np.asarray(t * t * (3 - 2 * t), dtype=np.float32)  # smoothstep
    return Aligned(np.asarray(pixels, dtype=np.uint8), weight)


def fuse(
    target: Image.Image,
    template: Image.Image,
    target_face: Face,
    template_face: Face,
    similarity: float,
) -> Image.Image:
    """The template with the target's face blended in; `similarity` 0 leaves it unchanged."""
    result = np.array(template)  # a writable copy
    if similarity <= 0.0:
        return Image.fromarray(result)
    region = face_region(template_face, *template.size)
    aligned = align(target, target_face, template_face, region)
    if not aligned.weight.any():  # the two faces' ellipses do not overlap: nothing to blend
        return Image.fromarray(result)
    scene = result[region.y : region.y + region.h, region.x : region.x + region.w]
    scene_f = scene.astype(np.float32)
    face = _match_colours(
        aligned.pixels.astype(np.float32) / 255.0, scene_f / 255.0, aligned.weight
    )
    blended = _poisson(face * 255.0, scene, aligned.weight > 0)
    alpha = (opacity(similarity) * aligned.weight)[..., None]
    scene[...] = np.clip(scene_f + alpha * (blended - scene_f) + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(result)


def opacity(similarity: float) -> float:
    """How opaque the blended face is laid over the template's at `similarity`.

    0 at 0 and 1 at 1, rising fastest near 0 (0.3 shows about half of the target's face):
    a low similarity should still visibly change the face, as a real merge does.
    """
    return float(min(1.0, max(0.0, similarity)) ** _OPACITY_EXPONENT)


def _poisson(
    face: FloatImage, scene: npt.NDArray[np.uint8], inside: npt.NDArray[np.bool_]
) -> FloatImage:
    """`face` with the smooth correction that makes it meet `scene` at the edge of `inside`
    without a seam (Poisson blending: the face's gradients, the scene's border values).

    The correction is solved on a copy at most `_POISSON_SIDE` px wide and scaled up.
    """
    height, width = inside.shape
    factor = min(1.0, _POISSON_SIDE / max(height, width))
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    source = np.clip(face + 0.5, 0, 255).astype(np.uint8)
    mask = inside.astype(np.uint8) * 255
    small_source, small_scene = source, scene
    if factor < 1.0:
        small_source = np.asarray(cv2.resize(source, size, interpolation=cv2.INTER_AREA))
        small_scene = np.asarray(cv2.resize(scene, size, interpolation=cv2.INTER_AREA))
        mask = np.asarray(cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST))
    mask[[0, -1], :] = 0  # seamlessClone needs the mask clear of the border
    mask[:, [0, -1]] = 0
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0:
        return face
    cloned = cv2.seamlessClone(
        small_source, small_scene, mask, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE
    )
    correction = cloned.astype(np.float32) - small_source.astype(np.float32)
    if factor < 1.0:
        correction = cv2.resize(correction, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.asarray(source.astype(np.float32) + correction, dtype=np.float32)


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


def encode(image: Image.Image, result_format: ResultFormat) -> bytes:
    """The result image file as the API returns it (before base64)."""
    buffer = io.BytesIO()
    if result_format == "JPEG":
        image.save(buffer, "JPEG", quality=92)
    else:
        image.save(buffer, "PNG", compress_level=1)  # speed over size: it is a local emulator
    return buffer.getvalue()
