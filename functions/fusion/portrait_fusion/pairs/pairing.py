"""Which objects form a pair: the naming convention (`PAIR_PATTERN`) as pure functions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote, unquote_plus

from portrait_fusion.core.errors import PairingError


class Role(StrEnum):
    """The two halves of a pair."""

    TARGET = "target"  # the face to keep
    TEMPLATE = "template"  # the scene

    @property
    def partner(self) -> Role:
        """The other half."""
        return Role.TEMPLATE if self is Role.TARGET else Role.TARGET


@dataclass(frozen=True)
class Half:
    """An object key recognised as one half of a pair."""

    key: str
    pair_id: str
    role: Role
    listing_prefix: str  # every key of the same pair starts with this


@dataclass(frozen=True)
class PairKeys:
    """Both halves of a pair, found under one listing prefix."""

    pair_id: str
    target: str
    template: str


def decode_notification_key(raw: str) -> str:
    """Decode a key from an S3 event notification (form-encoded: `+` is a space)."""
    return unquote_plus(raw)


def decode_batch_key(raw: str) -> str:
    """Decode a key from an S3 Batch Operations task (percent-encoded)."""
    return unquote(raw)


class PairNaming:
    """The naming convention: one regex with named groups `pair` and `role`."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self._pattern = pattern

    @property
    def pattern(self) -> re.Pattern[str]:
        """The PAIR_PATTERN keys are matched against."""
        return self._pattern

    def parse(self, key: str) -> Half | None:
        """Recognise a decoded key as a half, or return None if it is not part of any pair."""
        match = self._pattern.match(key)
        if match is None:
            return None
        pair_id, role = match.group("pair"), match.group("role")
        if not pair_id or not role:
            return None
        try:
            parsed_role = Role(role.lower())
        except ValueError:
            return None
        return Half(
            key=key, pair_id=pair_id, role=parsed_role, listing_prefix=key[: match.end("pair")]
        )

    def assemble(self, pair_id: str, keys: Iterable[str]) -> PairKeys | None:
        """Find the pair's two halves among `keys` (a listing); None while one is missing.

        Raises `PairingError` when a role has more than one candidate (e.g. `target.jpg` and
        `target.png`): guessing would merge the wrong face, so the pair fails instead.
        """
        found: dict[Role, list[str]] = {Role.TARGET: [], Role.TEMPLATE: []}
        for key in keys:
            half = self.parse(key)
            if half is not None and half.pair_id == pair_id:
                found[half.role].append(key)
        for role, candidates in found.items():
            if len(candidates) > 1:
                raise PairingError(
                    f"pair {pair_id!r} is ambiguous: {len(candidates)} {role.value} objects "
                    f"({', '.join(sorted(candidates))}); keep exactly one",
                    code="ERROR_AMBIGUOUS_PAIR",
                )
        if not found[Role.TARGET] or not found[Role.TEMPLATE]:
            return None
        return PairKeys(
            pair_id=pair_id, target=found[Role.TARGET][0], template=found[Role.TEMPLATE][0]
        )
