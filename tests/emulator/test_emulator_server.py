"""The server around the API: plain HTTP, framing, limits, routing, teardown and the CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from requests_toolbelt import MultipartEncoder

from local_stack.emulator import API_PATH, Faults, FusionEmulator
from local_stack.emulator.server import MAX_REQUEST_BYTES
from tests.emulator.support import API_KEY, FusionClient, error_code, result_image

ROOT = Path(__file__).resolve().parents[2]


def test_plain_http_is_selectable() -> None:
    with FusionEmulator(api_keys={API_KEY}, tls=False) as emu:
        assert emu.url.startswith("http://127.0.0.1:") and emu.url.endswith(API_PATH)
        assert emu.ca_bundle is None
        response = FusionClient(emu).post(None, None)
    assert error_code(response) == "MISSING_PARAMETERS"


def test_the_emulator_is_trusted_through_its_ca_bundle_only(
    client: FusionClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # REQUESTS_CA_BUNDLE (set by the fixture) covers both names in the certificate
    localhost = client.emulator.url.replace("127.0.0.1", "localhost")
    assert requests.post(localhost, timeout=5).status_code == 401
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(client.emulator.url, timeout=5)


def test_a_streamed_chunked_upload_is_understood(
    client: FusionClient, astronaut: bytes, hopper: bytes
) -> None:
    form = MultipartEncoder(
        {
            "image_target": ("t.png", astronaut, "image/png"),
            "image_template": ("p.jpg", hopper, "image/jpeg"),
        }
    )
    body = form.to_string()
    pieces = (body[i : i + 65_536] for i in range(0, len(body), 65_536))  # no length: chunked
    response = requests.post(
        client.emulator.url,
        data=pieces,
        headers={"Content-Type": form.content_type, "ailabapi-api-key": API_KEY},
        timeout=10,
    )
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert result_image(response).size == (512, 600)


def test_an_oversized_request_body_is_refused_with_413(client: FusionClient) -> None:
    response = client.post(b"\xff\xd8\xff" + b"\x00" * MAX_REQUEST_BYTES, b"x")
    assert (response.status_code, error_code(response)) == (413, "ERROR_REQUEST_BODY_TOO_LARGE")


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/other"), ("GET", API_PATH)])
def test_other_paths_answer_404_ai_not_exists(client: FusionClient, method: str, path: str) -> None:
    response = requests.request(method, client.emulator.base_url + path, timeout=5)
    assert (response.status_code, error_code(response)) == (404, "ERROR_AI_NOT_EXISTS")


def test_stop_cuts_idle_and_held_connections_and_leaves_no_thread() -> None:
    # Threads of other tests' servers may end meanwhile: look only at the ones started here.
    threads_before = set(threading.enumerate())
    emu = FusionEmulator(api_keys={API_KEY}, tls=False, faults=Faults(script=("timeout",)))
    emu.start()
    session = requests.Session()
    assert session.post(emu.url, timeout=5).status_code == 401  # leaves a keep-alive connection
    ended: list[object] = []

    def call_held_by_the_api() -> None:
        # Stopping answers the held call or cuts its connection, whichever comes first.
        try:
            ended.append(requests.post(emu.url, headers={"ailabapi-api-key": API_KEY}, timeout=30))
        except requests.ConnectionError as exc:
            ended.append(exc)

    held = threading.Thread(target=call_held_by_the_api)
    held.start()
    time.sleep(0.2)  # the call is now held for timeout_hold_ms (35 s)
    port, started = emu.port, time.perf_counter()
    emu.stop()
    held.join(5)
    session.close()
    assert time.perf_counter() - started < 3
    assert not held.is_alive()
    assert len(ended) == 1  # the held call ended at the stop
    assert not set(threading.enumerate()) - threads_before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_the_certificate_is_deleted_at_stop() -> None:
    with FusionEmulator(api_keys={API_KEY}) as emu:
        ca_bundle = emu.ca_bundle
        assert ca_bundle is not None and Path(ca_bundle).read_bytes().startswith(b"-----BEGIN")
    assert not Path(ca_bundle).exists()


@pytest.fixture
def cli() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local_stack.emulator",
            "--port",
            "0",
            "--api-key",
            "cli-key",
            "--script",
            "ERROR_USER_LOCKED,ok",
            "--log-level",
            "WARNING",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    printed: dict[str, str] = {}
    assert process.stdout is not None
    while "EMULATOR_ADMIN_URL" not in printed and (line := process.stdout.readline()):
        name, _, value = line.strip().partition("=")
        printed[name] = value
    try:
        yield process, printed
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_cli_prints_where_it_is_and_stops_on_sigterm(
    cli: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    process, printed = cli
    url, ca_bundle = printed["FUSION_API_URL"], printed["REQUESTS_CA_BUNDLE"]
    response = requests.post(
        url, headers={"ailabapi-api-key": "cli-key"}, verify=ca_bundle, timeout=10
    )
    assert (response.status_code, error_code(response)) == (403, "ERROR_USER_LOCKED")
    stats = requests.get(printed["EMULATOR_ADMIN_URL"] + "/stats", verify=ca_bundle, timeout=10)
    assert stats.json()["by_outcome"] == {"ERROR_USER_LOCKED": 1}
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
    assert not Path(ca_bundle).exists()
