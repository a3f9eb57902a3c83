"""Generated sections of README.md: tables between two HTML comment markers.

A check compares the README as it is with the freshly generated text. ``UPDATE_README=1``
also writes the generated text, but the check still judges the README that was there before,
so a stale README fails the run that fixes it and passes the next one.
"""

from __future__ import annotations

import os
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def section(text: str, start: str, end: str) -> str:
    """The lines between the markers (without them)."""
    assert start in text and end in text, f"README.md lacks the markers {start} ... {end}"
    return text.partition(start)[2].partition(end)[0].strip("\n")


def check_section(start: str, end: str, generated: str, what: str) -> None:
    """Fail unless the README's section between the markers is ``generated``; write it when
    ``UPDATE_README`` is set."""
    text = README.read_text()
    current = section(text, start, end)
    if current == generated:
        return
    if os.environ.get("UPDATE_README"):
        before, _, rest = text.partition(start)
        after = rest.partition(end)[2]
        README.write_text(f"{before}{start}\n{generated}\n{end}{after}")
        hint = "rewritten now: review the diff and rerun"
    else:
        hint = "rerun with UPDATE_README=1"
    raise AssertionError(f"README {what} is stale ({hint})")
