"""Each bench upload is unique by a JPEG comment, same pixels: re-use finds nothing, while
the emulator's result cache, which ignores comments, still answers at once."""

from __future__ import annotations

import io

from PIL import Image

from benchmarks.workload import portrait_pair, tagged
from local_stack.emulator.jpeg_comments import without_comments


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.tobytes()


def test_a_tag_makes_the_bytes_unique_and_keeps_the_pixels() -> None:
    jpeg = portrait_pair(256).target
    first, second = tagged(jpeg, "bench p1 target"), tagged(jpeg, "bench p2 target")
    assert len({jpeg, first, second}) == 3
    assert pixels(first) == pixels(jpeg)
    with Image.open(io.BytesIO(first)) as image:
        assert image.info["comment"] == b"bench p1 target"


def test_without_comments_undoes_the_tag_and_leaves_the_rest_of_the_file() -> None:
    commented = portrait_pair(256).template  # the source photo carries a comment already
    stripped = without_comments(tagged(commented, "bench p1 template"))
    assert stripped == without_comments(commented) != commented
    assert pixels(stripped) == pixels(commented)
    plain = portrait_pair(256).target  # from a PNG: no comment anywhere
    assert without_comments(plain) == plain
    assert without_comments(b"\x89PNG\r\n\x1a\n...") == b"\x89PNG\r\n\x1a\n..."
    assert tagged(b"\x89PNG\r\n\x1a\n...", "x") == b"\x89PNG\r\n\x1a\n..."
