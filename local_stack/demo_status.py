"""What happened to a demo pair, in words a user understands, read from its result document.

The pipeline records what `AUTO_FIT` did to each input in ``inputs.<role>.adjusted``
(``changes``, ``orientation``, ``original``, ``sent``) and an identical earlier request in
``reused_from``; these functions say it plainly: "target stored sideways (EXIF orientation 6),
turned upright", "template converted from HEIF to JPEG", "no API call: the result of ... was
re-used".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# What EXIF orientations 2 to 8 ask a viewer to undo: how the pixels were stored.
_STORED = {
    2: "stored mirrored",
    3: "stored upside down",
    4: "stored upside down and mirrored",
    5: "stored sideways and mirrored",
    6: "stored sideways",
    7: "stored sideways and mirrored",
    8: "stored sideways",
}
_MB = 1_000_000


def status_line(document: Mapping[str, Any] | None, similarity: float | None) -> str:
    """One line: the outcome, the similarity sent, the API calls, what was done to the inputs."""
    if document is None:
        return "no result document"
    sent = "not sent" if similarity is None else str(similarity)
    error = document["error"]
    if error is not None:
        return f"failed at {error['stage']}: {error['code']} (source_similarity {sent})"
    parts = [f"succeeded, source_similarity {sent}", _calls(document)]
    parts += [adjustment(role, adjusted) for role, adjusted in adjusted_inputs(document)]
    return "; ".join(parts)


def adjusted_inputs(document: Mapping[str, Any] | None) -> list[tuple[str, Mapping[str, Any]]]:
    """(role, ``adjusted``) of each input that `AUTO_FIT` changed before the call."""
    inputs = (document or {}).get("inputs", {})
    return [(role, info["adjusted"]) for role, info in inputs.items() if info.get("adjusted")]


def adjustment(role: str, adjusted: Mapping[str, Any]) -> str:
    """What `AUTO_FIT` did to one input, e.g. "target stored sideways (EXIF orientation 6),
    turned upright"; several changes are joined with commas."""
    original, sent = adjusted["original"], adjusted["sent"]
    words = []
    for change in adjusted["changes"]:
        if change == "rotated":
            orientation = adjusted["orientation"]
            stored = _STORED.get(orientation, "stored turned")
            words.append(f"{stored} (EXIF orientation {orientation}), turned upright")
        elif change == "converted":
            words.append(f"converted from {_kind(original)} to {_kind(sent)}")
        elif change == "downscaled":
            words.append(
                f"shrunk from {_size(original)} to {_size(sent)} px (the API takes under 4096 px)"
            )
        elif change == "re-encoded":
            words.append(
                f"re-encoded from {original['size'] / _MB:.1f} MB to {sent['size'] / _MB:.1f} MB "
                "(the API takes up to 4 MB)"
            )
        else:  # a change this page does not know yet: say its name rather than nothing
            words.append(change)
    return f"{role} " + ", ".join(words)


def _calls(document: Mapping[str, Any]) -> str:
    reused_from = document.get("reused_from")
    if reused_from is not None:
        return f"no API call: the result of the identical pair {reused_from!r} was re-used"
    attempts = int((document.get("api") or {}).get("attempts", 0))
    return f"{attempts} API call" + ("" if attempts == 1 else "s")


def _kind(image: Mapping[str, Any]) -> str:
    """A format, with its pixel mode when that is what changed (CMYK, 16-bit, palette...)."""
    return image["format"] if image["mode"] == "RGB" else f"{image['format']} {image['mode']}"


def _size(image: Mapping[str, Any]) -> str:
    return f"{image['width']}x{image['height']}"
