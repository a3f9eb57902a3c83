"""Where a pair's `source_similarity` comes from, and what values are valid."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

from portrait_fusion.core.errors import PreflightError

METADATA_KEY = "source-similarity"


def parse_similarity(value: object, source: str) -> float:
    """Parse a similarity value; raise `ERROR_INVALID_PARAMETER` naming `source` if invalid."""
    number: float
    if isinstance(value, bool):
        number = math.nan  # True/False would pass float(), but mean nothing here
    elif isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = math.nan
    else:
        number = math.nan
    if not 0.0 <= number <= 1.0:  # also false for NaN
        raise PreflightError(
            f"source_similarity from {source} must be a number in [0, 1], got {value!r}",
            code="ERROR_INVALID_PARAMETER",
        )
    return number


def form_value(similarity: float) -> str:
    """The similarity as the API's form field: a plain decimal, never exponent notation
    (nothing documents that the API parses `1e-05`)."""
    # The shortest repr round-trips the float exactly; Decimal writes it out without exponent.
    return format(Decimal(repr(float(similarity))), "f")


def _metadata_value(metadata: Mapping[str, str]) -> str | None:
    # S3 lower-cases user metadata keys, but a metadata map built by hand may not be.
    for name, value in metadata.items():
        if name.lower() == METADATA_KEY:
            return value
    return None


def resolve_similarity(
    requested: object | None,
    target_metadata: Mapping[str, str],
    template_metadata: Mapping[str, str],
    default: float | None,
) -> float | None:
    """Pick the pair's similarity: request, target metadata, template metadata, then default.

    Returns None when nothing sets it, in which case the field is not sent to the API.
    """
    if requested is not None and requested != "":
        return parse_similarity(requested, "the request")
    for role, metadata in (("target", target_metadata), ("template", template_metadata)):
        value = _metadata_value(metadata)
        if value is not None and value.strip() != "":
            return parse_similarity(value, f"the {role}'s metadata '{METADATA_KEY}'")
    return default
