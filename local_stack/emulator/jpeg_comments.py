"""JPEG comment (COM) segments: text in the file that no decoder turns into pixels.

Two JPEGs that differ only in their COM segments decode to the same image, so the
emulator's result cache may treat them as one input.
"""

from __future__ import annotations

_SOI = b"\xff\xd8"
_COM = 0xFE
_SOS = 0xDA  # the entropy-coded data follows: no more marker segments to look at
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RSTn: markers without a length


def without_comments(data: bytes) -> bytes:
    """`data` with the COM segments before the image data removed; anything that is not a
    well-formed JPEG header comes back unchanged."""
    if not data.startswith(_SOI):
        return data
    kept = [_SOI]
    position = len(_SOI)
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            kept.append(data[position : position + 1])
            position += 1
            continue
        if marker in _STANDALONE:
            kept.append(data[position : position + 2])
            position += 2
            continue
        if marker == _SOS:
            break
        end = position + 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        if marker != _COM:
            kept.append(data[position:end])
        position = end
    kept.append(data[position:])
    return b"".join(kept)
