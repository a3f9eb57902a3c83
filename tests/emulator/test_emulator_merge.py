"""The merge itself (size, format, similarity steering) and the billing ledger."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
from PIL import Image

from local_stack.emulator import Faults
from local_stack.emulator.merge import align, find_face
from tests.emulator.support import FusionClient, result_image

Pixels = npt.NDArray[np.float64]


def pixels(image: Image.Image) -> Pixels:
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def test_similarity_steers_the_face_from_template_to_target(
    client: FusionClient, astronaut: bytes, hopper: bytes
) -> None:
    # Given both portraits and where their faces are
    target = Image.open(io.BytesIO(astronaut)).convert("RGB")
    template = Image.open(io.BytesIO(hopper)).convert("RGB")
    target_face, template_face = find_face(target), find_face(template)
    assert target_face is not None and template_face is not None
    # The target's face as it lands on the template's face box
    aligned = align(target, target_face, template_face, template_face).astype(np.float64)
    box = np.s_[
        template_face.y : template_face.y + template_face.h,
        template_face.x : template_face.x + template_face.w,
    ]

    # When the pair is merged at rising similarities
    results = {s: result_image(client.post(astronaut, hopper, s)) for s in ("0", "0.5", "1")}

    # Then every result has the template's size and moves toward the target's face
    assert {r.size for r in results.values()} == {template.size}
    distance = {s: float(np.abs(pixels(r)[box] - aligned).mean()) for s, r in results.items()}
    assert distance["0"] > distance["0.5"] > distance["1"]
    # 0 leaves the template as it was (up to JPEG re-encoding); 0.5 is neither input
    assert np.abs(pixels(results["0"]) - pixels(template)).mean() < 0.01
    assert np.abs(pixels(results["0.5"])[box] - pixels(template)[box]).mean() > 0.03
    assert distance["0.5"] > 0.03


def test_without_similarity_the_default_is_one_half(
    client: FusionClient, astronaut: bytes, hopper: bytes
) -> None:
    default = pixels(result_image(client.post(hopper, astronaut)))
    half = pixels(result_image(client.post(hopper, astronaut, "0.5")))
    assert default.shape == (512, 512, 3)
    np.testing.assert_array_equal(default, half)


def test_png_results_are_selectable(client: FusionClient, astronaut: bytes, hopper: bytes) -> None:
    client.emulator.set_faults(Faults(result_format="PNG"))
    image = result_image(client.post(astronaut, hopper))
    assert (image.format, image.size) == ("PNG", (512, 600))


def test_default_results_are_jpeg(client: FusionClient, astronaut: bytes, hopper: bytes) -> None:
    assert result_image(client.post(astronaut, hopper)).format == "JPEG"


def test_a_second_bill_for_the_same_work_is_a_duplicate(
    client: FusionClient, astronaut: bytes, hopper: bytes
) -> None:
    client.emulator.set_faults(Faults(script=("ok", "SERVICE_INTERNAL_ERROR", "ok", "ok")))
    client.post(astronaut, hopper, "0.6")
    client.post(astronaut, hopper, "0.6")  # failed: not billed, so no duplicate either
    assert client.emulator.stats()["duplicates"] == 0
    client.post(astronaut, hopper, "0.60")  # the same similarity, spelled differently
    client.post(astronaut, hopper, "0.7")  # different work
    stats = client.emulator.stats()
    assert (stats["calls"], stats["merges"], stats["duplicates"]) == (4, 3, 1)
    assert stats["by_outcome"] == {"ok": 3, "SERVICE_INTERNAL_ERROR": 1}


def test_every_http_200_is_billed_even_an_unusable_one(
    client: FusionClient, astronaut: bytes, hopper: bytes
) -> None:
    client.emulator.set_faults(Faults(script=("ok", "truncated_json", "SERVICE_INTERNAL_ERROR")))
    for _ in range(3):
        client.post(astronaut, hopper)
    stats = client.emulator.stats()
    # The truncated 200 merged nothing usable, yet the API bills it
    assert (stats["calls"], stats["billed"], stats["merges"]) == (3, 2, 1)
