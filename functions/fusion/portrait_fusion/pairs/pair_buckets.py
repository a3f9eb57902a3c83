"""Where a stack keeps pairs: the two buckets and the prefixes inputs and results live under."""

from __future__ import annotations

from dataclasses import dataclass


# Keyword-only, so that a dataclass extending it can add fields without defaults.
@dataclass(frozen=True, kw_only=True)
class PairBuckets:
    """The input and output buckets, and the prefixes of pairs' inputs and results in them."""

    input_bucket: str
    output_bucket: str
    input_prefix: str = "incoming/"
    output_prefix: str = "results/"
