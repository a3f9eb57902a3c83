"""The merge itself (a face put onto a face, similarity steering, size, format) and the ledger."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from local_stack.emulator import Faults, FusionEmulator, fusion
from local_stack.emulator.faces import Box, Face, find_face
from local_stack.emulator.merge import align, face_region
from tests.emulator.support import API_KEY, FusionClient, error_code, result_image
from tests.images import gradient

Pixels = npt.NDArray[np.float64]


def pixels(image: Image.Image) -> Pixels:
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def face_box(picture: Image.Image) -> Box:
    face = find_face(picture)
    assert face is not None
    return face.box


@pytest.mark.parametrize(("target", "template"), [("hopper", "astronaut"), ("astronaut", "hopper")])
def test_similarity_changes_the_face_and_never_the_background(
    client: FusionClient, request: pytest.FixtureRequest, target: str, template: str
) -> None:
    # Given two bundled portraits, results as PNG (no JPEG noise), and the template's face box
    target_file, template_file = request.getfixturevalue(target), request.getfixturevalue(template)
    scene = decoded(template_file)
    box = face_box(scene)
    in_box = np.zeros((scene.height, scene.width), dtype=bool)
    in_box[box.y : box.y + box.h, box.x : box.x + box.w] = True
    client.emulator.set_faults(Faults(result_format="PNG"))

    # When the pair is merged at similarity 0, 0.3 and 1
    results = {
        s: pixels(result_image(client.post(target_file, template_file, s)))
        for s in ("0", "0.3", "1")
    }

    # Then 0 is the template pixel for pixel, and nothing outside the face box ever changes
    assert np.array_equal(results["0"], pixels(scene))
    change = {s: np.abs(r - pixels(scene)).mean(axis=2) for s, r in results.items()}
    assert all(float(c[~in_box].max()) == 0.0 for c in change.values())
    # while the face visibly changes at 0.3 (3/255 is about what JPEG re-encoding alone does),
    # and clearly more at 1
    assert float(change["0.3"][in_box].mean()) > 5 / 255
    assert float(change["1"][in_box].mean()) > 1.5 * float(change["0.3"][in_box].mean())


def test_a_higher_similarity_brings_the_face_closer_to_the_target_s(
    client: FusionClient, astronaut: bytes, hopper: bytes
) -> None:
    # Given where Hopper's face lands on the astronaut's, and the middle of that face
    target, template = decoded(hopper), decoded(astronaut)
    target_face, template_face = find_face(target), find_face(template)
    assert target_face is not None and template_face is not None
    region = face_region(template_face, *template.size)
    aligned = align(target, target_face, template_face, region)
    middle = aligned.weight > 0.99
    window = np.s_[region.y : region.y + region.h, region.x : region.x + region.w]

    # When the pair is merged at rising similarities
    results = {
        s: pixels(result_image(client.post(hopper, astronaut, s))) for s in ("0.3", "0.6", "1")
    }

    # Then the face's structure (its detail, with the colours the blend adapts taken out)
    # moves toward the target's at every step
    def detail(image: Pixels) -> Pixels:
        grey = image.mean(axis=2)
        return grey - grey[middle].mean()

    wanted = detail(aligned.pixels.astype(np.float64) / 255.0)[middle]
    distance = {
        s: float(np.abs(detail(r[window])[middle] - wanted).mean()) for s, r in results.items()
    }
    assert distance["0.3"] > distance["0.6"] > distance["1"]


def test_the_same_inputs_give_the_same_bytes_from_another_emulator(
    client: FusionClient, astronaut: bytes, hopper: bytes
) -> None:
    # Given a second emulator, with nothing cached (plain HTTP: the client trusts one CA)
    with FusionEmulator(api_keys={API_KEY}, tls=False) as other:
        # When both merge the same pair
        first = client.post(hopper, astronaut, "0.7")
        second = FusionClient(other).post(hopper, astronaut, "0.7")
    # Then the result images are the same bytes
    assert first.status_code == second.status_code == 200
    assert first.json()["data"]["image"] == second.json()["data"]["image"]


def test_a_file_sent_again_is_searched_for_a_face_once_with_the_same_verdict(
    astronaut: bytes, hopper: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an emulator with nothing cached, and every face search counted
    searched: list[tuple[int, int]] = []

    def counted(image: Image.Image) -> Face | None:
        searched.append(image.size)
        return find_face(image)

    monkeypatch.setattr(fusion, "find_face", counted)
    faceless = gradient()
    with FusionEmulator(api_keys={API_KEY}, tls=False) as fresh:
        client = FusionClient(fresh)
        # When the same two portraits are merged at two similarities and with roles swapped,
        # and a file without a face is sent twice
        merged = [
            client.post(hopper, astronaut, "0.3"),
            client.post(hopper, astronaut, "0.7"),
            client.post(astronaut, hopper, "0.7"),
        ]
        refused = [client.post(faceless, astronaut, "0.5") for _ in range(2)]
    # Then each file was searched once (the portraits, then the faceless file)...
    assert len(searched) == 3
    # ... and the verdicts are those of a fresh search: merged, then refused both times
    assert [answer.status_code for answer in merged] == [200, 200, 200]
    assert [error_code(answer) for answer in refused] == ["ERROR_NO_FACE_IN_FILE"] * 2


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
