"""Inputs as phones and browsers make them, and shapes at the edges of every limit, through
the function: each ends as an upright merge or a `failed` document with a documented code,
and nothing preflight refuses reaches the API."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from PIL import Image

from local_stack.emulator import FusionEmulator
from portrait_fusion.images.image_conversion import bytes_per_pixel
from portrait_fusion.images.preflight import (
    AUTO_FIT_MAX_BYTES,
    AUTO_FIT_MAX_PIXELS,
    DECODE_BUDGET_BYTES,
)
from tests import images, phone_images
from tests.corpus.conftest import Ran, Upload, outcome

Run = Callable[[list[Upload]], list[Ran]]


def _solid(width: int, height: int, fmt: str = "JPEG") -> bytes:
    """A plain colour picture: cheap at any size, in colour, without a face."""
    return images.encode(Image.new("RGB", (width, height), (200, 120, 80)), fmt)


@pytest.mark.parametrize("orientation", phone_images.ORIENTATIONS)
def test_a_phone_portrait_in_every_exif_orientation_is_merged_upright(
    orientation: int, configure: Callable[..., None], run_pairs: Run
) -> None:
    # The emulator, like a face detector, ignores the tag: only upright pixels have a face.
    target = phone_images.phone_jpeg(orientation)
    template = phone_images.phone_jpeg(orientation, phone_images.upright("grace_hopper.jpg"))
    (ran,) = run_pairs([Upload(f"orientation {orientation}", target, template)])
    assert outcome(ran) == "succeeded", ran.document
    assert ran.document is not None
    for role in ("target", "template"):
        adjusted = ran.document["inputs"][role]["adjusted"]
        if orientation == 1:
            assert adjusted is None  # already upright: sent as it is
        else:
            assert "rotated" in adjusted["changes"]
            assert adjusted["orientation"] == orientation


@pytest.mark.parametrize("kind", phone_images.CONVERTIBLE)
def test_each_convertible_format_is_merged_as_either_role(
    kind: str, configure: Callable[..., None], run_pairs: Run, emulator: FusionEmulator
) -> None:
    make = phone_images.CONVERTIBLE[kind]
    as_target = Upload(f"{kind} target", make(), images.as_png(), "heic", "png")
    as_template = Upload(f"{kind} template", images.as_jpeg(), make(), "jpg", "webp")
    for ran in run_pairs([as_target, as_template]):
        assert outcome(ran) == "succeeded", ran.document
        assert ran.document is not None
        role = "target" if ran.upload is as_target else "template"
        entry = ran.document["inputs"][role]
        assert entry["format"] == "JPEG"
        assert "converted" in entry["adjusted"]["changes"]
        assert entry["adjusted"]["sent"]["mode"] == "RGB"
    assert emulator.stats()["calls"] == 2


@pytest.mark.parametrize("kind", phone_images.CONVERTIBLE)
def test_without_auto_fit_nothing_is_converted(
    kind: str, configure: Callable[..., None], run_pairs: Run, emulator: FusionEmulator
) -> None:
    configure(AUTO_FIT="false")
    make = phone_images.CONVERTIBLE[kind]
    (ran,) = run_pairs([Upload(kind, make(), images.as_png(), "jpg", "png")])
    assert outcome(ran) in {
        "preflight: UNSUPPORTED_FILE_TYPES",  # HEIC, AVIF, WebP, CMYK
        "succeeded",  # the PNG variants the API takes as they are
    }
    assert ran.document is not None
    assert ran.document["inputs"]["target"]["adjusted"] is None


def test_without_auto_fit_a_rotated_jpeg_is_sent_as_stored(
    configure: Callable[..., None], run_pairs: Run
) -> None:
    configure(AUTO_FIT="false")
    (ran,) = run_pairs(
        [Upload("sideways", phone_images.phone_jpeg(6), images.as_png(), "jpg", "png")]
    )
    # Sent as it is, the face lies on its side: the API finds none.
    assert outcome(ran) == "api: ERROR_NO_FACE_IN_FILE"


def test_a_grayscale_template_is_merged_and_a_grayscale_target_refused(
    configure: Callable[..., None], run_pairs: Run, emulator: FusionEmulator
) -> None:
    gray = phone_images.gray_template()
    template, target = run_pairs(
        [
            Upload("gray template", images.as_jpeg(), gray),
            Upload("gray target", gray, images.as_png(), "jpg", "png"),
        ]
    )
    assert outcome(template) == "succeeded", template.document
    assert outcome(target) == "preflight: ERROR_UNSUPPORTED_GRAYSCALE_IMAGE"
    assert emulator.stats()["calls"] == 1


@dataclass(frozen=True)
class Shape:
    """An input shape at an edge of a limit, and how its pair must end."""

    label: str
    width: int
    height: int
    role: str
    outcome: str


FITS = "api: ERROR_NO_FACE_IN_FILE"  # sent (a plain colour has no face)
TOO_THIN = "preflight: ERROR_LOW_RESOLUTION"
SHAPES = [
    Shape("target thinnest that fits", 258, 8190, "target", FITS),
    Shape("target too thin once fitted", 256, 8190, "target", TOO_THIN),
    Shape("template thinnest that fits", 8190, 402, "template", FITS),
    Shape("template too thin once fitted", 8190, 400, "template", TOO_THIN),
    Shape("target 129 x 40000 (was a crash)", 129, 40000, "target", TOO_THIN),
    Shape("target 40000 x 129", 40000, 129, "target", TOO_THIN),
    Shape("target 150 x 20000 (was sent)", 150, 20000, "target", TOO_THIN),
    Shape("target 128 px wide", 128, 1000, "target", TOO_THIN),
    Shape("target 129 x 4095, as it is", 129, 4095, "target", FITS),
    Shape("template 201 x 4095, as it is", 4095, 201, "template", FITS),
    Shape("template 200 px high", 4095, 200, "template", TOO_THIN),
]


def test_extreme_shapes_end_with_their_code_and_only_fitting_ones_are_sent(
    configure: Callable[..., None], run_pairs: Run, emulator: FusionEmulator
) -> None:
    uploads = []
    for shape in SHAPES:
        data = _solid(shape.width, shape.height)
        if shape.role == "target":
            uploads.append(Upload(shape.label, data, images.as_png(), "jpg", "png"))
        else:
            uploads.append(Upload(shape.label, images.as_jpeg(), data))
    ran = run_pairs(uploads)
    assert {r.upload.label: outcome(r) for r in ran} == {s.label: s.outcome for s in SHAPES}
    assert emulator.stats()["calls"] == sum(1 for s in SHAPES if s.outcome == FITS)


def test_the_largest_inputs_auto_fit_takes_and_one_beyond(
    configure: Callable[..., None], run_pairs: Run, emulator: FusionEmulator
) -> None:
    side = 8000  # 8000 x 8000 is exactly the pixel limit; a JPEG decodes it at half scale
    assert side * side == AUTO_FIT_MAX_PIXELS
    png_side = math.isqrt(DECODE_BUDGET_BYTES // bytes_per_pixel("PNG", "RGB", resizing=True))
    mib = AUTO_FIT_MAX_BYTES // 2**20
    cases = [
        (_solid(side, side), "api: ERROR_NO_FACE_IN_FILE"),  # fitted and sent: no face in it
        (_solid(side, side + 1), "preflight: FILE_RESOLUTION_EXCEEDS_LIMITS"),
        (_solid(png_side, png_side, "PNG"), "api: ERROR_NO_FACE_IN_FILE"),
        (_solid(png_side + 1, png_side + 1, "PNG"), "preflight: FILE_RESOLUTION_EXCEEDS_LIMITS"),
        (images.padded_to(images.as_jpeg(), AUTO_FIT_MAX_BYTES), "succeeded"),
        (
            images.padded_to(images.as_jpeg(), AUTO_FIT_MAX_BYTES + 1),
            "preflight: FILE_SIZE_EXCEEDS_LIMIT",
        ),
    ]
    labels = [
        "64 MP JPEG",
        "64 MP + 1 row",
        "largest PNG",
        "PNG one px more",
        f"{mib} MiB",
        f"{mib} MiB + 1",
    ]
    uploads = [
        Upload(label, data, images.as_png(), "jpg", "png")
        for label, (data, _) in zip(labels, cases, strict=True)
    ]
    ran = run_pairs(uploads)
    assert [outcome(r) for r in ran] == [expected for _, expected in cases]
    fitted = ran[0].document["inputs"]["target"]  # type: ignore[index]
    assert (fitted["width"], fitted["height"]) == (4000, 4000)  # half scale: under 4096 px
    assert ran[2].document["inputs"]["target"]["width"] == 4095  # type: ignore[index]
    assert emulator.stats()["calls"] == 3
