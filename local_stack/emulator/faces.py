"""Where a face is: OpenCV's Haar cascades, as shipped inside the `opencv-python-headless` wheel.

A face is its box (the frontal-face cascade; the largest well-supported hit wins) and, when
both are found plausibly, its two eyes (the eye cascade, searched in the box's upper half).
Eyes give the merge a rotation and a finer scale; without them it aligns the boxes. Nothing
is downloaded: the cascades are XML files in the wheel (`cv2.data.haarcascades`).
"""

from __future__ import annotations

import math
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

_CASCADES = cv2.data.haarcascades  # type: ignore[attr-defined]
_DETECT_SIDE = 360  # faces are searched on a copy at most this big: fast, still precise
_MIN_FACE_FRACTION = 8  # a face smaller than 1/8 of the short side does not count
_EYE_SEARCH_WIDTH = 200  # eyes are searched on a band of the face, resized to this width
_EYE_SCALE_STEP = 1.05
_EYE_BAND = (0.1, 0.62)  # the band of the box searched for eyes, as fractions of its height
_EYE_SIZE = (0.1, 0.35)  # an eye's box, as fractions of the face's width
_EYE_DISTANCE = (0.25, 0.6)  # between the two eyes' centres, as fractions of the face's width
_EYE_TILT = 0.25  # the most the eye line may rise or fall per unit of its length

Point = tuple[float, float]
Grey = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in pixels."""

    x: int
    y: int
    w: int
    h: int

    @property
    def centre(self) -> Point:
        """The centre point (x, y)."""
        return self.x + self.w / 2, self.y + self.h / 2


@dataclass(frozen=True)
class Eyes:
    """The centres of the two eyes as they appear in the picture: `left` has the smaller x."""

    left: Point
    right: Point

    @property
    def distance(self) -> float:
        """Between the two centres, in pixels."""
        return math.dist(self.left, self.right)

    @property
    def midpoint(self) -> Point:
        """Halfway between the two centres."""
        return (self.left[0] + self.right[0]) / 2, (self.left[1] + self.right[1]) / 2

    @property
    def angle(self) -> float:
        """The eye line's angle to the horizontal, in radians (positive: the right eye lower)."""
        return math.atan2(self.right[1] - self.left[1], self.right[0] - self.left[0])


@dataclass(frozen=True)
class Face:
    """A face found in a picture: its box, and its eyes when both were found plausibly."""

    box: Box
    eyes: Eyes | None


class _CascadePool:
    """Loaded classifiers of one cascade file. A classifier is not safe to share between
    threads and loading one takes ~30 ms, so each thread borrows one and gives it back."""

    def __init__(self, file_name: str) -> None:
        self._path = _CASCADES + file_name
        self._idle: queue.SimpleQueue[cv2.CascadeClassifier] = queue.SimpleQueue()

    @contextmanager
    def borrowed(self) -> Iterator[cv2.CascadeClassifier]:
        try:
            cascade = self._idle.get_nowait()
        except queue.Empty:
            cascade = cv2.CascadeClassifier(self._path)
        try:
            yield cascade
        finally:
            self._idle.put(cascade)


_FACES = _CascadePool("haarcascade_frontalface_default.xml")
_EYES = _CascadePool("haarcascade_eye.xml")


def find_face(image: Image.Image) -> Face | None:
    """The largest well-supported frontal face in `image`, in its pixels; None if none."""
    grey = np.asarray(image.convert("L"))
    scale = min(1.0, _DETECT_SIDE / max(grey.shape))
    small = grey
    if scale < 1.0:
        small = np.asarray(cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    # Both searches see the picture's contrast equalised over the whole picture: equalised
    # alone, a face's crop would let a dark hat or glasses set its contrast.
    equalise = _equalisation(small)
    box = _face_box(np.asarray(cv2.LUT(small, equalise), dtype=np.uint8), scale)
    return None if box is None else Face(box, _eyes(grey, box, equalise))


def _equalisation(grey: Grey) -> Grey:
    """The lookup table that equalises `grey`'s histogram (as `cv2.equalizeHist` does)."""
    cdf = np.bincount(grey.ravel(), minlength=256).cumsum()
    lowest = cdf[np.flatnonzero(cdf)[0]]
    spread = max(1, int(cdf[-1] - lowest))
    table = np.clip(np.round((cdf - lowest) * 255.0 / spread), 0, 255)
    return np.asarray(table, dtype=np.uint8)


def _face_box(equalised: Grey, scale: float) -> Box | None:
    """The face's box in the picture; `equalised` is the picture at `scale`."""
    min_side = max(24, min(equalised.shape) // _MIN_FACE_FRACTION)
    with _FACES.borrowed() as cascade:
        faces, votes = cascade.detectMultiScale2(
            equalised, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
        )
    if len(faces) == 0:
        return None
    # A big but weakly supported hit (a patch, a helmet) must not beat the real face.
    confident = [f for f, v in zip(faces, votes, strict=True) if v >= max(votes) / 2]
    x, y, w, h = (round(v / scale) for v in max(confident, key=lambda f: f[2] * f[3]))
    return Box(x, y, w, h)


def _eyes(grey: Grey, box: Box, equalise: Grey) -> Eyes | None:
    """Both eyes inside `box`, or None unless one plausible eye was found on each side."""
    top, bottom = (box.y + round(f * box.h) for f in _EYE_BAND)
    band = grey[max(0, top) : bottom + 1, box.x : box.x + box.w]
    if band.size == 0:
        return None
    scale = _EYE_SEARCH_WIDTH / band.shape[1]  # the face is searched this wide
    size = (_EYE_SEARCH_WIDTH, max(1, round(band.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    search = cv2.LUT(cv2.resize(band, size, interpolation=interpolation), equalise)
    smallest, largest = (round(f * _EYE_SEARCH_WIDTH) for f in _EYE_SIZE)
    with _EYES.borrowed() as cascade:
        hits, votes = cascade.detectMultiScale2(
            search,
            scaleFactor=_EYE_SCALE_STEP,
            minNeighbors=3,
            minSize=(smallest, smallest),
            maxSize=(largest, largest),
        )
    best: dict[bool, tuple[int, Point]] = {}  # the best-supported eye on each side
    for (x, y, w, h), vote in zip(hits, votes, strict=True):
        cx, cy = (x + w / 2) / scale, max(0, top) - box.y + (y + h / 2) / scale  # in the box
        right = cx >= box.w / 2
        if right not in best or vote > best[right][0]:
            best[right] = (int(vote), (box.x + cx, box.y + cy))
    if len(best) < 2:
        return None
    eyes = Eyes(best[False][1], best[True][1])
    rise = abs(eyes.right[1] - eyes.left[1])
    plausible = _EYE_DISTANCE[0] * box.w <= eyes.distance <= _EYE_DISTANCE[1] * box.w
    return eyes if plausible and rise <= _EYE_TILT * eyes.distance else None
