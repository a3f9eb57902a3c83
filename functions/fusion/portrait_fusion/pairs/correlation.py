"""The app's own id for a pair: S3 user metadata `correlation-id` on either half."""

from __future__ import annotations

from collections.abc import Mapping

from portrait_fusion.core.observability import logger

METADATA_KEY = "correlation-id"
MAX_LENGTH = 128


def correlation_id(
    target_metadata: Mapping[str, str], template_metadata: Mapping[str, str]
) -> str | None:
    """The pair's correlation id: the target's if it has a valid one, else the template's.

    A value longer than `MAX_LENGTH` or holding anything but printable ASCII is ignored with a
    warning (it would be echoed into documents and events that other systems parse).
    """
    for role, metadata in (("target", target_metadata), ("template", template_metadata)):
        value = metadata.get(METADATA_KEY)
        if value is None:
            continue
        problem = _problem(value)
        if problem is None:
            return value
        logger.warning(
            "correlation-id metadata ignored",
            extra={"role": role, "problem": problem, "length": len(value)},
        )
    return None


def _problem(value: str) -> str | None:
    if not value:
        return "it is empty"
    if len(value) > MAX_LENGTH:
        return f"it is longer than {MAX_LENGTH} characters"
    if not all(" " <= char <= "~" for char in value):
        return "it holds a character outside printable ASCII"
    return None
