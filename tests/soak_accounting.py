"""The soak's accounting: where each pair ended, cross-checked against three witnesses.

A pair's outcome is its `result.json` status (`succeeded` or `failed`), else `dlq` when a
message naming it sits in the DLQ, else `lost`. The witnesses must agree with it: the
emulator's ledger (billed merges, by the sha256 of the inputs it was sent) shows exactly one
merge for every succeeded pair and none for any other, and no merge of inputs that no pair
uploaded. Pure: the soak gathers the evidence, this decides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Inputs = tuple[str, str]
"""(sha256 of the target, sha256 of the template), as uploaded."""


@dataclass(frozen=True)
class SoakPair:
    """One pair the soak uploaded."""

    pair_id: str
    inputs: Inputs


@dataclass(frozen=True)
class Evidence:
    """What the stack shows once it is quiet."""

    documents: Mapping[str, str]
    """Pair id -> the status in its result.json, for every pair that has one."""
    dlq: Mapping[str, int]
    """Pair id -> messages naming it in the DLQ (read without hiding them)."""
    merges: Mapping[Inputs, int]
    """Billed merges per inputs, from the emulator's ledger (all similarities)."""


@dataclass(frozen=True)
class Accounting:
    """Every pair's outcome, and every way the witnesses disagree with it."""

    outcomes: dict[str, str]
    contradictions: list[str] = field(default_factory=list)
    completed_with_dlq_message: list[str] = field(default_factory=list)
    """Pairs with a document and also a message in the DLQ: a spare delivery of a pair that
    another message completed (a redrive replays it from the record), not a lost pair."""

    def tally(self) -> Counter[str]:
        """Pairs per outcome: succeeded, failed, dlq, lost."""
        return Counter(self.outcomes.values())


def account(pairs: Sequence[SoakPair], evidence: Evidence) -> Accounting:
    """Each pair's outcome, and the contradictions between the outputs, the DLQ and the
    ledger."""
    outcomes: dict[str, str] = {}
    contradictions: list[str] = []
    spare: list[str] = []
    for pair in pairs:
        status = evidence.documents.get(pair.pair_id)
        parked = evidence.dlq.get(pair.pair_id, 0)
        if status is not None:
            outcome = status
            if parked:
                spare.append(pair.pair_id)
        else:
            outcome = "dlq" if parked else "lost"
        outcomes[pair.pair_id] = outcome
        merges = evidence.merges.get(pair.inputs, 0)
        wanted = 1 if outcome == "succeeded" else 0
        if merges != wanted:
            contradictions.append(
                f"{pair.pair_id}: {outcome}, but the ledger shows {merges} merges of its inputs"
            )
    uploaded = {pair.inputs for pair in pairs}
    contradictions += [
        f"{count} merges of inputs no pair uploaded: {inputs}"
        for inputs, count in evidence.merges.items()
        if inputs not in uploaded
    ]
    unknown = sorted(set(evidence.dlq) - set(outcomes))
    if unknown:
        contradictions.append(f"DLQ messages name pairs the soak never uploaded: {unknown}")
    return Accounting(outcomes, contradictions, spare)
