"""Every code of the API's published table is classified, read from that table itself: a new
row fails here until it is classified. The README's classification table is this table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from portrait_fusion.api.api_codes import CODES, TABLE, Kind, readme_table
from portrait_fusion.api.api_errors import interpret
from portrait_fusion.core.errors import (
    ApiError,
    OperationalApiError,
    PermanentApiError,
    TransientApiError,
)
from tests.readme_sections import check_section

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT.parent / "shared" / "api" / "error-codes.tsv"
START, END = "<!-- error-codes:start -->", "<!-- error-codes:end -->"

with PUBLISHED.open(newline="") as table:
    ROWS = [(int(row["http_status"]), row["code"]) for row in csv.DictReader(table, delimiter="\t")]
CLASS_OF = {
    Kind.PERMANENT: PermanentApiError,
    Kind.TRANSIENT: TransientApiError,
    Kind.OPERATIONAL: OperationalApiError,
}


def test_the_published_table_is_read() -> None:
    assert len(ROWS) == len({code for _, code in ROWS}) > 100


@pytest.mark.parametrize(("status", "code"), ROWS, ids=[code for _, code in ROWS])
def test_every_published_code_is_classified(status: int, code: str) -> None:
    assert code in CODES, f"{code} ({status}) is published but not classified in api_codes"


def test_the_table_classifies_each_code_once_and_no_unpublished_one() -> None:
    assert len(TABLE) == len(CODES)
    assert set(CODES) == {code for _, code in ROWS}


def body(code: str, coarse: str | None = None) -> bytes:
    detail = {"code": code, "code_message": "cm", "message": f"{code} happened"}
    fields: dict[str, object] = {"request_id": "r", "log_id": "l", "error_detail": detail}
    if coarse:  # an old-style body, whose deprecated field may name a coarser code
        fields |= {"error_code": 422, "error_code_str": coarse, "error_msg": "coarse"}
    return json.dumps(fields).encode()


@pytest.mark.parametrize(("status", "code"), ROWS, ids=[code for _, code in ROWS])
def test_each_code_is_understood_at_its_status_and_at_another(status: int, code: str) -> None:
    expected = CLASS_OF[CODES[code].kind]
    for answered in (status, 500 if status < 500 else 400):  # statuses moved once already
        with pytest.raises(ApiError) as caught:
            interpret(answered, body(code))
        assert type(caught.value) is expected
        assert caught.value.code == code


def test_error_detail_code_wins_over_a_coarser_error_code_str() -> None:
    with pytest.raises(PermanentApiError) as caught:
        interpret(422, body("ERROR_NO_FACE_IN_FILE", coarse="FILE_CONTENT_NON_COMPLIANCE"))
    assert caught.value.code == "ERROR_NO_FACE_IN_FILE"


@pytest.mark.parametrize(
    "code",
    [
        "ERROR_AI_NOT_EXISTS",
        "ERROR_USER_NOT_EXISTS",
        "ERROR_APPLICATIONS_NOT_EXISTS",
        "ERROR_USER_LOCKED",
        "ERROR_NOT_ENOUGH_CREDITS",
    ],
)
def test_account_and_service_conditions_are_operational(code: str) -> None:
    assert CODES[code].kind is Kind.OPERATIONAL


def test_image_storage_not_supported_is_permanent_despite_its_5xx() -> None:
    assert CODES["ERROR_IMAGE_STORAGE_NOT_SUPPORTED"].kind is Kind.PERMANENT


@pytest.mark.parametrize(
    ("status", "cls"),
    [(418, PermanentApiError), (451, PermanentApiError), (507, TransientApiError)],
)
def test_an_unknown_code_falls_back_on_the_status(status: int, cls: type[ApiError]) -> None:
    with pytest.raises(ApiError) as caught:
        interpret(status, body("ERROR_NOT_PUBLISHED_ANYWHERE"))
    assert type(caught.value) is cls


def test_the_readme_shows_this_classification() -> None:
    check_section(START, END, readme_table(), "error-code classification")
