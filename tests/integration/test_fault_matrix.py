"""The fault matrix: every fault the emulator can inject, and S3 faults, end in the outcome
the README's error vocabulary names. The README's table is generated from this test
(each case checks its own row against what it just observed; `UPDATE_README=1` also writes the
rows a run produced)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest

from local_stack.aws import LocalStack
from local_stack.emulator import Faults, FusionEmulator
from tests import images
from tests.harness import Buckets, unique_pair
from tests.readme_sections import README, check_section, section
from tests.settling import emulator_idle

START, END = "<!-- fault-matrix:start -->", "<!-- fault-matrix:end -->"
ATTEMPTS = 2  # API_MAX_ATTEMPTS for this test, to keep it short


@dataclass(frozen=True)
class Fault:
    name: str
    outcome: str = ""  # an emulator outcome, scripted for every call
    expect: str = "handed back"  # or "failed" / "succeeded"
    code: str = ""
    calls: int = ATTEMPTS
    operational: bool = False


FAULTS = [
    Fault("rate limit (429 EXCEEDING_LIMITS)", "EXCEEDING_LIMITS", code="EXCEEDING_LIMITS"),
    *[
        Fault(f"{status} {code}", code, code=code)
        for status, code in [
            (500, "PROCESSING_FAILURE"),
            (500, "UNKNOWN_ERROR"),
            (500, "SERVICE_INTERNAL_ERROR"),
            (500, "ERROR_RESPONSE_BODY_TOO_LARGE"),
            (502, "ERROR_FACE_BLENDING_FAILED"),
            (502, "AI_SERVICE_ERROR"),
            (502, "AI_SERVICE_INTERNAL_ERROR"),
            (502, "ERROR_GATEWAY"),
            (502, "FILE_SERVICE_ERROR"),
            (503, "AI_SERVICE_FLOW_RESTRICTION"),
            (503, "ERROR_INSUFFICIENT_RESOURCES"),
            (503, "ERROR_RESOURCE_UNAVAILABLE"),
            (504, "AI_SERVICE_TIMEOUT"),
        ]
    ],
    Fault("no answer within API_TIMEOUT_SECONDS", "timeout", code="API_TIMEOUT"),
    Fault("connection reset", "reset", code="CONNECTION_ERROR"),
    Fault("HTML 502 gateway page", "html_502", code="HTTP_502"),
    Fault("HTML 503 gateway page", "html_503", code="HTTP_503"),
    Fault("HTML 504 gateway page", "html_504", code="HTTP_504"),
    Fault(
        "unknown code with a 5xx status (507)",
        "ERROR_NOT_PUBLISHED_YET@507",
        code="ERROR_NOT_PUBLISHED_YET",
    ),
    Fault("200 with truncated JSON", "truncated_json", "failed", "INVALID_RESPONSE"),
    Fault("200 with a non-JSON body", "non_json", "failed", "INVALID_RESPONSE"),
    Fault("200 without data.image", "ok_without_image", "failed", "INVALID_RESPONSE"),
    Fault("200 whose image is not an image", "not_an_image", "failed", "INVALID_RESPONSE"),
    Fault("slowly dribbled body", "slow_body", "succeeded", calls=1),
    Fault(
        "out of credits (429)",
        "ERROR_NOT_ENOUGH_CREDITS",
        code="ERROR_NOT_ENOUGH_CREDITS",
        calls=1,
        operational=True,
    ),
    Fault(
        "bad API key (401, secret re-read once)",
        "bad_key",
        code="ERROR_USER_NOT_EXISTS",
        calls=1,
        operational=True,
    ),
    Fault(
        "account locked (403)",
        "ERROR_USER_LOCKED",
        code="ERROR_USER_LOCKED",
        calls=1,
        operational=True,
    ),
    Fault(
        "service deactivated (404 ERROR_AI_NOT_EXISTS)",
        "ERROR_AI_NOT_EXISTS",
        code="ERROR_AI_NOT_EXISTS",
        calls=1,
        operational=True,
    ),
    Fault(
        "501 ERROR_IMAGE_STORAGE_NOT_SUPPORTED",
        "ERROR_IMAGE_STORAGE_NOT_SUPPORTED",
        "failed",
        "ERROR_IMAGE_STORAGE_NOT_SUPPORTED",
        calls=1,
    ),
    Fault(
        "unknown code with a 4xx status (418)",
        "ERROR_NOT_PUBLISHED_YET@418",
        "failed",
        "ERROR_NOT_PUBLISHED_YET",
        calls=1,
    ),
    Fault(
        "no face in the template (422)",
        "ERROR_NO_FACE_IN_FILE",
        "failed",
        "ERROR_NO_FACE_IN_FILE",
        calls=1,
    ),
    Fault("input deleted before its pair is read", "delete_input", "waiting", calls=0),
    Fault(
        "ad-hoc request naming a missing input",
        "missing_input",
        "failed",
        "INPUT_NOT_FOUND",
        calls=0,
    ),
    Fault("output bucket refusing writes", "no_output_bucket", code="STORAGE_ERROR", calls=1),
]
HEADER = ("| fault | API calls | outcome |", "|---|---|---|")


def settled_calls(emulator: FusionEmulator) -> int:
    """Calls, once none is in flight (a held or reset call is counted when it ends)."""
    return int(emulator_idle(emulator)["calls"])


def handed_back_codes(records: list[logging.LogRecord]) -> set[str]:
    return {str(getattr(r, "code", "")) for r in records if "handed back" in r.getMessage()}


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault(
    fault: Fault,
    function: Any,
    configure: Any,
    buckets: Buckets,
    emulator: FusionEmulator,
    stack: LocalStack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    overrides = {"API_MAX_ATTEMPTS": str(ATTEMPTS), "API_TIMEOUT_SECONDS": "1"}
    if fault.outcome == "no_output_bucket":
        overrides["OUTPUT_BUCKET"] = "no-such-output-bucket"
    configure(**overrides)
    if fault.outcome == "bad_key":
        emulator.set_api_keys({"the-real-key-is-elsewhere"})
    elif fault.outcome not in ("delete_input", "missing_input", "no_output_bucket"):
        emulator.set_faults(
            Faults(script=(fault.outcome,) * 8, timeout_hold_ms=2500, slow_body_ms=600)
        )
    pair_id = unique_pair()
    target = buckets.upload(pair_id, "target", images.as_jpeg())
    buckets.upload(pair_id, "template", images.as_png(), "png")
    if fault.outcome in ("delete_input", "missing_input"):
        buckets.s3.delete_object(Bucket=stack.input_bucket, Key=target)
    caplog.clear()

    if fault.outcome == "missing_input":
        response = {"batchItemFailures": []}
        function.invoke(
            {
                "target": f"s3://{stack.input_bucket}/{target}",
                "template": f"s3://{stack.input_bucket}/incoming/{pair_id}/template.png",
            }
        )
    else:
        response = function.deliver()

    document = buckets.document(pair_id)
    calls = settled_calls(emulator)
    assert calls == fault.calls
    if fault.expect == "handed back":
        assert len(response["batchItemFailures"]) == len(response["messages"])
        assert document is None
        assert handed_back_codes(caplog.records) == {fault.code}
        how = "at once (operational)" if fault.operational else "after the attempts"
        outcome = f"handed back {how}: `{fault.code}`; redelivered, then the DLQ"
    elif fault.expect == "waiting":
        assert response["batchItemFailures"] == []
        assert document is None
        outcome = "the remaining half waits for a partner (no call, nothing retried)"
    else:
        assert response["batchItemFailures"] == []
        assert document is not None
        assert document["status"] == fault.expect
        if fault.expect == "failed":
            assert document["error"]["code"] == fault.code
            outcome = f"`failed` document, `{fault.code}`"
        else:
            outcome = "succeeded"
    # Then the README's row for this fault is the one this run produced
    check_section(START, END, table_with(f"| {fault.name} | {calls} | {outcome} |"), fault.name)


def readme_rows() -> dict[str, str]:
    """The README's fault-matrix rows, by fault name."""
    lines = section(README.read_text(), START, END).splitlines()[len(HEADER) :]
    return {line.split(" | ")[0].removeprefix("| "): line for line in lines}


def table_with(row: str) -> str:
    """The README's table with ``row`` in its fault's place, in the order of FAULTS."""
    rows = readme_rows()
    rows[row.split(" | ", maxsplit=1)[0].removeprefix("| ")] = row
    return "\n".join([*HEADER, *(rows[f.name] for f in FAULTS if f.name in rows)])


def test_the_readme_matrix_lists_every_fault_in_order() -> None:
    assert list(readme_rows()) == [fault.name for fault in FAULTS]
