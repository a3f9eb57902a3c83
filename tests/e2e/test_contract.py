"""The running local Pair API against its published description, with schemathesis: every
check, every phase, a bounded number of examples, with a token the API accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from local_stack.pair_api_server import PairApiServer
from tests.e2e.conftest import TokenMinter

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTION = ROOT / "schemas" / "pair-api.openapi.yaml"
CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 25
RATE_PER_SECOND = 8


def test_the_running_api_keeps_its_published_description(
    pair_api: PairApiServer, tokens: TokenMinter, tmp_path: Path
) -> None:
    token = tokens("contract-tester", expires_in=1800)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--no-color",
            "--config-file",
            str(CONFIG),
            "run",
            str(DESCRIPTION),
            "--url",
            pair_api.url,
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "19",
            "--workers",
            "1",
            # under the stage's throttling (10 requests a second, the template's default),
            # which the local Pair API applies as API Gateway does
            "--rate-limit",
            f"{RATE_PER_SECOND}/s",
            "--request-timeout",
            "20",
            "--generation-database",
            "none",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # schemathesis keeps a cache of its own in the working directory
        timeout=540,
        check=False,
    )
    # the token is a credential: it never reaches the test's output
    output = (run.stdout + run.stderr).replace(token, "<token>")
    assert run.returncode == 0, output[-20000:]
