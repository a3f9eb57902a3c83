"""The soak's accounting on made-up evidence: a pair in the DLQ is counted there, never lost."""

from __future__ import annotations

from tests.soak_accounting import Evidence, SoakPair, account

DONE, FAILED, PARKED, GONE = (
    SoakPair("done", ("t1", "p1")),
    SoakPair("failed", ("t2", "p2")),
    SoakPair("parked", ("t3", "p3")),
    SoakPair("gone", ("t4", "p4")),
)


def test_a_pair_in_the_dlq_is_counted_in_the_dlq_and_nothing_is_lost() -> None:
    evidence = Evidence(
        documents={"done": "succeeded", "failed": "failed"},
        dlq={"parked": 1},
        merges={("t1", "p1"): 1},
    )
    accounting = account([DONE, FAILED, PARKED], evidence)
    assert accounting.outcomes == {"done": "succeeded", "failed": "failed", "parked": "dlq"}
    assert accounting.tally() == {"succeeded": 1, "failed": 1, "dlq": 1}
    assert accounting.contradictions == []
    assert accounting.completed_with_dlq_message == []


def test_a_pair_with_neither_a_document_nor_a_dlq_message_is_lost() -> None:
    accounting = account([DONE, GONE], Evidence({"done": "succeeded"}, {}, {("t1", "p1"): 1}))
    assert accounting.outcomes["gone"] == "lost"
    assert accounting.tally()["lost"] == 1


def test_a_document_wins_over_a_spare_message_in_the_dlq() -> None:
    evidence = Evidence({"done": "succeeded"}, {"done": 2}, {("t1", "p1"): 1})
    accounting = account([DONE], evidence)
    assert accounting.outcomes == {"done": "succeeded"}
    assert accounting.completed_with_dlq_message == ["done"]
    assert accounting.contradictions == []


def test_the_ledger_contradicts_a_success_without_a_merge_and_a_merge_without_a_success() -> None:
    evidence = Evidence(
        documents={"done": "succeeded", "failed": "failed"},
        dlq={"parked": 1},
        merges={("t2", "p2"): 1, ("t3", "p3"): 2},
    )
    contradictions = account([DONE, FAILED, PARKED], evidence).contradictions
    assert contradictions == [
        "done: succeeded, but the ledger shows 0 merges of its inputs",
        "failed: failed, but the ledger shows 1 merges of its inputs",
        "parked: dlq, but the ledger shows 2 merges of its inputs",
    ]


def test_a_duplicate_merge_and_strangers_are_contradictions() -> None:
    evidence = Evidence(
        documents={"done": "succeeded"},
        dlq={"stranger": 1},
        merges={("t1", "p1"): 2, ("tx", "px"): 1},
    )
    contradictions = account([DONE], evidence).contradictions
    assert contradictions == [
        "done: succeeded, but the ledger shows 2 merges of its inputs",
        "1 merges of inputs no pair uploaded: ('tx', 'px')",
        "DLQ messages name pairs the soak never uploaded: ['stranger']",
    ]
