"""Fault injection: body styles, injected codes, special outcomes, script, rate and latency."""

from __future__ import annotations

import base64
import csv
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image, UnidentifiedImageError

from local_stack.emulator import STATUS_OF_CODE, Faults
from tests.emulator.support import FusionClient, error_code, result_image

SUCCESS_KEYS = {
    "request_id",
    "log_id",
    "error_code",
    "error_code_str",
    "error_msg",
    "error_detail",
    "data",
}


def test_new_style_errors_carry_only_the_detail_code(client: FusionClient) -> None:
    body = client.post(None, None).json()
    assert "error_code" not in body and "error_code_str" not in body
    assert "status_code" not in body["error_detail"]
    assert body["error_detail"]["code"] == "MISSING_PARAMETERS"
    assert body["error_detail"]["code_message"] and body["error_detail"]["message"]
    assert body["request_id"] and body["log_id"]


def test_old_style_errors_carry_the_status_and_the_deprecated_code(client: FusionClient) -> None:
    client.emulator.set_faults(Faults(body_style="old"))
    response = client.post(None, None)
    body = response.json()
    assert body["error_code"] == response.status_code == 400
    assert body["error_code_str"] == "MISSING_PARAMETERS"
    assert body["error_detail"]["status_code"] == 400
    assert body["error_detail"]["code"] == "MISSING_PARAMETERS"


def test_new_style_success_carries_only_the_public_fields(
    client: FusionClient, astronaut: bytes, hopper: bytes
) -> None:
    body = client.post(astronaut, hopper).json()
    assert set(body) == {"request_id", "log_id", "error_detail", "data"}
    assert body["error_detail"] == {"code": "", "code_message": "", "message": ""}
    assert body["data"]["image"]


def test_new_style_errors_carry_no_error_msg(client: FusionClient) -> None:
    assert set(client.post(None, None).json()) == {"request_id", "log_id", "error_detail"}


def test_old_style_errors_may_carry_a_coarser_error_code_str(client: FusionClient) -> None:
    # The published example: FILE_CONTENT_NON_COMPLIANCE beside ERROR_NO_FACE_IN_FILE.
    client.emulator.set_faults(Faults(body_style="old", script=("ERROR_NO_FACE_IN_FILE",)))
    body = client.post(None, None).json()
    assert (body["error_code"], body["error_code_str"], body["error_detail"]["code"]) == (
        422,
        "FILE_CONTENT_NON_COMPLIANCE",
        "ERROR_NO_FACE_IN_FILE",
    )


def test_old_style_success_body_and_unique_ids(
    client: FusionClient, astronaut: bytes, hopper: bytes
) -> None:
    client.emulator.set_faults(Faults(body_style="old"))
    first = client.post(astronaut, hopper).json()
    second = client.post(None, None).json()
    assert set(first) == SUCCESS_KEYS
    assert (first["error_code"], first["error_code_str"], first["error_msg"]) == (0, "", "")
    assert first["error_detail"] == {
        "status_code": 200,
        "code": "",
        "code_message": "",
        "message": "",
    }
    assert first["request_id"] != second["request_id"] and first["log_id"] != second["log_id"]


def test_every_documented_code_can_be_injected_with_its_status(client: FusionClient) -> None:
    client.emulator.set_faults(Faults(script=tuple(STATUS_OF_CODE)))
    answers = {code: client.post(None, None) for code in STATUS_OF_CODE}
    assert {c: (r.status_code, error_code(r)) for c, r in answers.items()} == {
        code: (status, code) for code, status in STATUS_OF_CODE.items()
    }
    assert answers["ERROR_NOT_ENOUGH_CREDITS"].status_code == 429
    assert answers["ERROR_USER_LOCKED"].status_code == 403
    assert answers["ERROR_IMAGE_STORAGE_NOT_SUPPORTED"].status_code == 501


def test_the_emulator_knows_the_whole_published_table() -> None:
    published = Path(__file__).resolve().parents[3] / "shared" / "api" / "error-codes.tsv"
    with published.open(newline="") as table:
        rows = {r["code"]: int(r["http_status"]) for r in csv.DictReader(table, delimiter="\t")}
    assert rows == STATUS_OF_CODE


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [
        ("ERROR_NOT_PUBLISHED_ANYWHERE@418", 418, "ERROR_NOT_PUBLISHED_ANYWHERE"),
        ("ERROR_NEW_UPSTREAM_FAULT@507", 507, "ERROR_NEW_UPSTREAM_FAULT"),
        ("EXCEEDING_LIMITS@422", 422, "EXCEEDING_LIMITS"),  # a published code, moved
    ],
)
def test_any_code_can_be_injected_with_any_status(
    client: FusionClient, outcome: str, status: int, code: str
) -> None:
    client.emulator.set_faults(Faults(script=(outcome,)))
    response = client.post(None, None)
    assert (response.status_code, error_code(response)) == (status, code)


@pytest.mark.parametrize("outcome", ["ERROR_NOT_PUBLISHED_ANYWHERE", "ERROR_X@200", "lower@500"])
def test_an_error_without_a_status_or_outside_4xx_5xx_is_refused(outcome: str) -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        Faults(script=(outcome,))


@pytest.mark.parametrize("value", ["7", "Tue, 01 Dec 2026 12:00:30 GMT"])
def test_retry_after_is_sent_with_error_answers_only(
    client: FusionClient, astronaut: bytes, hopper: bytes, value: str
) -> None:
    client.emulator.set_faults(
        Faults(retry_after=value, script=("AI_SERVICE_FLOW_RESTRICTION", "html_503", "ok"))
    )
    answers = [client.post(astronaut, hopper) for _ in range(3)]
    assert [r.status_code for r in answers] == [503, 503, 200]
    assert [r.headers.get("Retry-After") for r in answers] == [value, value, None]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_pages_are_html_for_each_gateway_status(client: FusionClient, status: int) -> None:
    client.emulator.set_faults(Faults(script=(f"html_{status}",)))
    response = client.post(None, None)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "text/html"
    assert f"<title>{status} ".encode() in response.content


def test_the_script_is_consumed_one_outcome_per_call(
    client: FusionClient, astronaut: bytes, hopper: bytes
) -> None:
    client.emulator.set_faults(Faults(script=("SERVICE_INTERNAL_ERROR", "ok")))
    assert client.post(astronaut, hopper).status_code == 500
    assert client.emulator.faults.script == ("ok",)
    assert client.post(astronaut, hopper).status_code == 200
    assert client.post(None, None).status_code == 400  # script spent: a normal answer
    assert client.emulator.stats()["by_outcome"] == {
        "SERVICE_INTERNAL_ERROR": 1,
        "ok": 1,
        "MISSING_PARAMETERS": 1,
    }


def test_a_seeded_error_rate_is_reproducible(client: FusionClient) -> None:
    faults = Faults(error_rate=0.5, error_codes=("AI_SERVICE_TIMEOUT", "html_502"), seed=7)

    def run() -> list[int]:
        client.emulator.set_faults(faults)
        return [client.post(None, None).status_code for _ in range(12)]

    first = run()
    assert first == run()
    assert {400, 504, 502} <= set(first)


def test_latency_is_added_to_every_call(client: FusionClient) -> None:
    client.emulator.set_faults(Faults(latency_ms=300, latency_jitter_ms=50))
    started = time.perf_counter()
    client.post(None, None)
    assert 0.3 <= time.perf_counter() - started < 1.5


def test_the_concurrency_cap_answers_429_exceeding_limits(client: FusionClient) -> None:
    client.emulator.set_faults(Faults(concurrency_cap=2, latency_ms=1000))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: client.post(None, None), range(4)))
    codes = sorted(error_code(r) for r in answers)
    assert codes == [
        "EXCEEDING_LIMITS",
        "EXCEEDING_LIMITS",
        "MISSING_PARAMETERS",
        "MISSING_PARAMETERS",
    ]
    assert {r.status_code for r in answers} == {400, 429}
    assert client.emulator.stats()["max_in_flight"] == 2


def test_html_502_is_a_gateway_page(client: FusionClient) -> None:
    client.emulator.set_faults(Faults(script=("html_502",)))
    response = client.post(None, None)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.lstrip().startswith("<html>")


def test_truncated_json_is_cut_mid_body(client: FusionClient) -> None:
    client.emulator.set_faults(Faults(script=("truncated_json",)))
    response = client.post(None, None)
    assert response.status_code == 200
    assert response.content.startswith(b'{"request_id"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_non_json_is_plain_text(client: FusionClient) -> None:
    client.emulator.set_faults(Faults(script=("non_json",)))
    response = client.post(None, None)
    assert (response.status_code, response.headers["Content-Type"]) == (200, "text/plain")
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_ok_without_image_has_no_data_image(client: FusionClient) -> None:
    client.emulator.set_faults(Faults(script=("ok_without_image",)))
    body = client.post(None, None).json()
    assert body["error_detail"]["code"] == "" and "image" not in body["data"]


def test_not_an_image_is_base64_of_other_bytes(client: FusionClient) -> None:
    client.emulator.set_faults(Faults(script=("not_an_image",)))
    data = base64.b64decode(client.post(None, None).json()["data"]["image"])
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(data))


def test_reset_closes_the_connection_without_an_answer(client: FusionClient) -> None:
    client.emulator.set_faults(Faults(script=("reset", "ok")))
    with pytest.raises(requests.ConnectionError):
        client.post(None, None)
    assert client.post(None, None).status_code == 400  # the next call is served again


def test_slow_body_sends_headers_first_then_dribbles_a_good_answer(
    client: FusionClient, astronaut: bytes, hopper: bytes
) -> None:
    client.emulator.set_faults(Faults(script=("slow_body",), slow_body_ms=600))
    started = time.perf_counter()
    response = client.post(astronaut, hopper, stream=True)
    headers_at = time.perf_counter() - started
    image = result_image(response)  # reads the rest of the body
    assert time.perf_counter() - started - headers_at >= 0.5
    assert image.size == (512, 600)


def test_timeout_holds_the_call_then_answers_normally(client: FusionClient) -> None:
    client.emulator.set_faults(Faults(script=("timeout", "timeout"), timeout_hold_ms=400))
    started = time.perf_counter()
    assert client.post(None, None).status_code == 400
    assert time.perf_counter() - started >= 0.4
    with pytest.raises(requests.ReadTimeout):
        client.post(None, None, timeout=0.1)
    # The emulator still finishes the abandoned call, as a real server would.
    deadline = time.monotonic() + 5
    while client.emulator.stats()["calls"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.emulator.stats()["by_outcome"] == {"timeout": 2}


def test_faults_are_steered_through_the_admin_endpoint(client: FusionClient) -> None:
    put = client.admin("PUT", "faults", {"script": ["ERROR_USER_LOCKED"], "body_style": "old"})
    assert put.status_code == 200 and put.json()["script"] == ["ERROR_USER_LOCKED"]
    assert client.post(None, None).json()["error_code"] == 403
    assert client.admin("GET", "faults").json()["script"] == []
    assert client.admin("GET", "stats").json()["by_outcome"] == {"ERROR_USER_LOCKED": 1}
    assert client.admin("POST", "reset").json()["calls"] == 0
    assert client.admin("GET", "faults").json()["body_style"] == "new"


@pytest.mark.parametrize(
    "document",
    [{"script": ["NOT_A_CODE"]}, {"latency": 5}, {"error_rate": 0.5}, {"concurrency_cap": 0}],
)
def test_bad_fault_settings_are_refused(client: FusionClient, document: dict[str, object]) -> None:
    response = client.admin("PUT", "faults", document)
    assert response.status_code == 400 and response.json()["error"]
    assert client.emulator.faults == Faults()
