"""``python -m local_stack up`` as a user runs it: a separate process, stopped by a signal."""

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import jwt
import pytest
import requests

from local_stack.aws import local_client
from tests.local_stack.support import HANDLER, eventually, read_calls

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, stderr: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``python -m local_stack up``; stderr goes to a file, so the pipe never fills."""
    with stderr.open("w") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local_stack",
                "up",
                # port 0: ports of the system's choosing, which no other test can take first
                "--moto-port",
                "0",
                "--pair-api-port",
                "0",
                *args,
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "PYTHONPATH": f"{ROOT / 'functions' / 'fusion'}:{ROOT}",
                **(env or {}),
            },
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )


def read_exports(stdout: IO[str]) -> dict[str, str]:
    """The ``export NAME=value`` lines `up` prints once the stack is ready."""
    exports = {}
    for line in stdout:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").strip().partition("=")
            exports[name] = shlex.split(value)[0]
        if line.startswith("# e.g."):
            break
    return exports


@pytest.fixture
def stack_process(calls_file: Path, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    process = run_cli(
        "--handler", HANDLER, stderr=tmp_path / "stderr.log", env={"CALLS_FILE": str(calls_file)}
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_up_serves_the_pipeline_until_sigterm(
    stack_process: subprocess.Popen[str], calls_file: Path, tmp_path: Path
) -> None:
    # Given the stack is up and has printed its environment
    assert stack_process.stdout is not None
    exports = read_exports(stack_process.stdout)
    # When a user uploads an input with nothing but that environment
    s3 = local_client("s3", exports["AWS_ENDPOINT_URL"], exports["AWS_DEFAULT_REGION"])
    s3.put_object(Bucket=exports["INPUT_BUCKET"], Key="incoming/cli/target.jpg", Body=b"x")
    # Then its S3 notification reaches the handler through the queue
    eventually(
        lambda: any(
            "incoming%2Fcli%2Ftarget.jpg" in record["body"]
            for call in read_calls(calls_file)
            if "event" in call
            for record in call["event"]["Records"]
        )
    )
    assert exports["FUSION_API_URL"].startswith("https://127.0.0.1:")
    assert Path(exports["REQUESTS_CA_BUNDLE"]).is_file()
    # And SIGTERM shuts everything down cleanly
    stack_process.send_signal(signal.SIGTERM)
    stack_process.communicate(timeout=20)
    stderr = (tmp_path / "stderr.log").read_text()
    assert stack_process.returncode == 0, stderr
    assert "stopping; event source mapping" in stderr


def test_up_refuses_what_the_template_would_refuse(tmp_path: Path) -> None:
    process = run_cli("--concurrency", "1", stderr=tmp_path / "stderr.log")
    process.communicate(timeout=60)
    stderr = (tmp_path / "stderr.log").read_text()
    assert process.returncode == 1
    assert "MaxConcurrency=1 is outside [2, 1000]" in stderr, stderr


def test_invoke_runs_an_event_file_against_the_running_stack(tmp_path: Path) -> None:
    # Given the stack is up with the demo pair seeded, and that pair is merged
    state_file = tmp_path / "state.json"
    process = run_cli("--seed", "--state-file", str(state_file), stderr=tmp_path / "up.log")
    try:
        assert process.stdout is not None
        exports = read_exports(process.stdout)
        s3 = local_client("s3", exports["AWS_ENDPOINT_URL"])
        document_key = "results/demo pair/result.json"

        def stored() -> bool:
            listed = s3.list_objects_v2(Bucket=exports["OUTPUT_BUCKET"], Prefix=document_key)
            return bool(listed.get("KeyCount"))

        eventually(stored, timeout_s=60)
        merged = json.loads(
            s3.get_object(Bucket=exports["OUTPUT_BUCKET"], Key=document_key)["Body"].read()
        )
        # When a user invokes the console-ready event from another folder, with no PYTHONPATH
        invoked = subprocess.run(
            [
                sys.executable,
                "-m",
                "local_stack",
                "invoke",
                str(ROOT / "events" / "ad-hoc-pair.json"),
                "--state-file",
                str(state_file),
            ],
            cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        # Then the function answers from the stack's exactly-once record: the stored document,
        # the same API request, no second call
        assert invoked.returncode == 0, invoked.stderr
        answer = json.loads(invoked.stdout)
        assert answer["status"] == "succeeded"
        assert answer["api"]["request_id"] == merged["api"]["request_id"]
        assert "PairsReplayed" in invoked.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    # And the state file goes with the stack
    assert not state_file.exists()


def test_invoke_without_a_running_stack_says_how_to_start_one(tmp_path: Path) -> None:
    invoked = subprocess.run(
        [
            sys.executable,
            "-m",
            "local_stack",
            "invoke",
            "events/ad-hoc-pair.json",
            "--state-file",
            str(tmp_path / "none.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert invoked.returncode == 1
    assert "start the local stack first (`make stack`)" in invoked.stderr


def read_pair_api_lines(stdout: IO[str]) -> dict[str, str]:
    """The exports `up` prints, through the Pair API's, and its playground link."""
    printed = {}
    for line in stdout:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").strip().partition("=")
            printed[name] = shlex.split(value)[0]
        if line.startswith("# playground: "):
            printed["playground"] = line.removeprefix("# playground: ").strip()
            break
    return printed


def mint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m local_stack token ...`` as a user runs it, from ``cwd`` with no PYTHONPATH."""
    return subprocess.run(
        [sys.executable, "-m", "local_stack", "token", *args],
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_token_signs_for_the_running_stacks_pair_api(tmp_path: Path) -> None:
    # Given the stack is up and has printed its Pair API and a ready token
    state_file = tmp_path / "state.json"
    process = run_cli("--state-file", str(state_file), stderr=tmp_path / "up.log")
    try:
        assert process.stdout is not None
        printed = read_pair_api_lines(process.stdout)
        url, ready = printed["PAIR_API_URL"], printed["PAIR_API_TOKEN"]
        templates = f"{url}/templates"
        assert requests.get(templates, headers=bearer(ready), timeout=10).status_code == 200
        assert printed["playground"] == f"{url}/playground/#token={ready}"
        ready_claims = jwt.decode(ready, options={"verify_signature": False})
        assert (ready_claims["sub"], ready_claims["iss"]) == ("demo-user", url)
        # When a user asks for a token for alice, from another folder
        minted = mint(
            "--subject",
            "alice",
            "--expires-in",
            "120",
            "--state-file",
            str(state_file),
            cwd=tmp_path,
        )
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.strip()
        # Then the running Pair API accepts it, for alice, for two minutes
        assert requests.get(templates, headers=bearer(token), timeout=10).status_code == 200
        claims = jwt.decode(token, options={"verify_signature": False})
        assert (claims["sub"], claims["iss"], claims["exp"] - claims["iat"]) == ("alice", url, 120)
        # And an expired one is refused as API Gateway refuses it
        expired = mint(
            "--subject", "alice", "--expires-in=-1", "--state-file", str(state_file), cwd=tmp_path
        )
        refused = requests.get(templates, headers=bearer(expired.stdout.strip()), timeout=10)
        assert (refused.status_code, refused.json()) == (401, {"message": "Unauthorized"})
        # and the signing key sits in a file only its owner can read
        assert state_file.stat().st_mode & 0o777 == 0o600
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert not state_file.exists()


def test_token_without_a_running_stack_says_how_to_start_one(tmp_path: Path) -> None:
    minted = mint("--subject", "alice", "--state-file", str(tmp_path / "none.json"), cwd=ROOT)
    assert minted.returncode == 1
    assert "start the local stack first (`make stack`)" in minted.stderr
    assert minted.stdout == ""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
