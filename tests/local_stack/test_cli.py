"""``python -m local_stack up`` as a user runs it: a separate process, stopped by a signal."""

import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.local_stack.support import HANDLER, eventually, read_calls

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_cli(*args: str, stderr: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``python -m local_stack up``; stderr goes to a file, so the pipe never fills."""
    with stderr.open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "local_stack", "up", "--moto-port", str(free_port()), *args],
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
    exports = {}
    for line in stack_process.stdout:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").strip().partition("=")
            exports[name] = shlex.split(value)[0]
        if line.startswith("# e.g."):
            break
    # When a user uploads an input with nothing but that environment
    session = boto3.Session(
        aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
        region_name=exports["AWS_DEFAULT_REGION"],
    )
    s3 = session.client("s3", endpoint_url=exports["AWS_ENDPOINT_URL"])
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
