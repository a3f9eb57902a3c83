"""The README's shell examples, read the way `tests/e2e/test_readme_commands.py` runs them.

The rules (the README's Development section states them for its readers):
- only ```` ```bash ```` blocks are commands;
- a block with a placeholder in angle brackets (`<InputBucketName>`) is for a deployed stack and
  is not run, nor is a block right after `<!-- readme-test: not run: why -->`;
- a line that starts a local stack (`make stack`, `python -m local_stack up ...`) is a terminal
  of its own; the block's other lines run once it is up, with its `export` lines;
- a line `# => text` is text the block prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"

_FENCE = re.compile(r"^```(\w*)\s*$")
_NOT_RUN = re.compile(r"^<!-- readme-test: not run: (?P<why>\S.*?) -->$")
_PLACEHOLDER = re.compile(r"<[A-Za-z][^<>\n]*>")
_EXPECTED = re.compile(r"^\s*# => (?P<text>.+?)\s*$")
_SHARED_STACK = re.compile(r"^make stack(\s|$)")
_OWN_STACK = re.compile(r"^(\.venv/bin/)?python3? -m local_stack up(\s|$)")


@dataclass(frozen=True)
class Block:
    """One fenced block of the README."""

    line: int
    """The README's line number of its first line."""
    language: str
    text: str
    not_run_because: str | None
    """The reason a `readme-test: not run` comment right above it gives."""

    @property
    def label(self) -> str:
        """A short name for test ids: its line and first command."""
        first = next((c for c in self.commands if not c.startswith("#")), "")
        words = re.sub(r"[^\w.-]+", "-", " ".join(first.split()[:3])).strip("-")
        return f"line{self.line}-{words}"

    @property
    def needs_aws(self) -> bool:
        """Whether it names values of a deployed stack (`<InputBucketName>`)."""
        return bool(_PLACEHOLDER.search(self.text))

    @property
    def runs(self) -> bool:
        """Whether the README test runs it."""
        return self.language == "bash" and not self.needs_aws and self.not_run_because is None

    @property
    def commands(self) -> list[str]:
        """Its logical lines: continuations (a trailing backslash) joined, blanks dropped."""
        logical: list[str] = []
        pending = ""
        for raw in self.text.splitlines():
            if raw.rstrip().endswith("\\"):
                pending += raw.rstrip()[:-1].strip() + " "
                continue
            line = pending + raw.strip()
            pending = ""
            if line:
                logical.append(line)
        return logical

    @property
    def server(self) -> str | None:
        """The line that starts a local stack, if any (`make stack` or `python -m
        local_stack up ...`), without its comment."""
        for command in self.commands:
            if _SHARED_STACK.match(command) or _OWN_STACK.match(command):
                return command.partition(" #")[0].strip()
        return None

    @property
    def shares_the_stack(self) -> bool:
        """Whether it runs against the README's one `make stack` (not a stack of its own)."""
        return self.server is None or bool(_SHARED_STACK.match(self.server))

    @property
    def script(self) -> str:
        """What runs in the block's shell: every line but the one that starts a stack."""
        server = self.server
        kept = [c for c in self.commands if c.partition(" #")[0].strip() != server]
        return "\n".join(kept) + "\n"

    @property
    def expected(self) -> list[str]:
        """The texts its `# => text` lines say it prints."""
        return [m["text"] for line in self.text.splitlines() if (m := _EXPECTED.match(line))]


def blocks(text: str) -> list[Block]:
    """Every fenced block of a Markdown text, in order."""
    found: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        above = next((line for line in reversed(lines[:index]) if line.strip()), "")
        marker = _NOT_RUN.match(above.strip())
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        body = "\n".join(lines[index + 1 : end]) + "\n"
        found.append(Block(index + 2, opening[1], body, marker["why"] if marker else None))
        index = end + 1
    return found


def readme_blocks() -> list[Block]:
    """The README's blocks."""
    return blocks(README.read_text())
