"""A flame graph of folded stacks, drawn with Pillow: callers below, callees on top, each
frame a box as wide as the samples it was on the stack for."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont

from benchmarks.profiling import Stack

_WIDTH, _ROW, _MARGIN, _HEAD = 1600, 17, 10, 34
_INK = (30, 30, 30)


@dataclass
class Node:
    """A frame in the call tree, with the samples of every stack through it."""

    name: str
    count: int = 0
    children: dict[str, Node] = field(default_factory=dict)

    def depth(self) -> int:
        """How many levels of frames lie above this one, itself included."""
        return 1 + max((child.depth() for child in self.children.values()), default=0)


def call_tree(stacks: Mapping[Stack, int]) -> Node:
    """The stacks merged into one tree under a root named "all"."""
    root = Node("all")
    for stack, count in stacks.items():
        root.count += count
        node = root
        for label in stack:
            node = node.children.setdefault(label, Node(label))
            node.count += count
    return root


def _colour(name: str) -> tuple[int, int, int]:
    """A warm colour, the same for the same function in every graph."""
    shade = hashlib.md5(name.encode(), usedforsecurity=False).digest()
    return 205 + shade[0] % 50, 80 + shade[1] % 130, 40 + shade[2] % 50


def draw(stacks: Mapping[Stack, int], title: str) -> Image.Image:
    """The flame graph of `stacks`, `title` on top."""
    root = call_tree(stacks)
    depth = root.depth()
    height = _HEAD + depth * _ROW + _MARGIN
    img = Image.new("RGB", (_WIDTH, height), "white")
    canvas = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=12)
    canvas.text((_MARGIN, 8), title, fill=_INK, font=ImageFont.load_default(size=16))
    scale = (_WIDTH - 2 * _MARGIN) / max(root.count, 1)
    # (node, left x, level): level 0, the root, is the bottom row.
    todo: list[tuple[Node, float, int]] = [(root, float(_MARGIN), 0)]
    while todo:
        node, left, level = todo.pop()
        width = node.count * scale
        if width < 1:
            continue
        bottom = height - _MARGIN - level * _ROW
        box = (round(left), bottom - _ROW + 1, round(left + width) - 1, bottom)
        canvas.rectangle(box, fill=_colour(node.name), outline="white")
        label = node.name
        while label and canvas.textlength(label, font=font) > width - 6:
            label = label[: max(0, len(label) - 4)] + ".." if len(label) > 6 else ""
        if label:
            canvas.text((box[0] + 3, box[1] + 2), label, fill=_INK, font=font)
        child_left = left
        for child in sorted(node.children.values(), key=lambda c: c.name):
            todo.append((child, child_left, level + 1))
            child_left += child.count * scale
    return img
