"""Every shell example of the README does what its text says, run as a user runs it.

The blocks come from README.md itself (`tests/readme_blocks.py` says which run and how), so a
new example is covered by default. Each runs from the repository root in `bash -e -o pipefail`,
with the environment a user's shell has (no PYTHONPATH, no venv activated) plus the `export`
lines its local stack printed; it must exit 0 and print every `# => text` it documents. The
only change made to a command: a line that starts a local stack gets free ports, since the
README's 5000 and 8080 may be taken on a shared machine. The blocks meant for `make stack` run
in one test, in the README's order, since later examples build on earlier ones (`my pair` is
merged, then erased); a block that starts a stack of its own is a test of its own.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.readme_blocks import Block, blocks, readme_blocks

ROOT = Path(__file__).resolve().parents[2]
FREE_PORTS = "--moto-port 0 --pair-api-port 0"
STARTUP_S = 120
BLOCK_S = 300
# What a user's shell does not have: the test runner's own settings (make's, the venv's, AWS's).
_NOT_IN_A_USERS_SHELL = ("PYTHONPATH", "VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
_READY = "Ctrl-C stops"  # the stack's last line of start-up (on stderr)


@dataclass
class Terminal:
    """A local stack running in the background, as in a terminal of its own."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def exports(self) -> dict[str, str]:
        """The variables its `export NAME=value` lines set."""
        found: dict[str, str] = {}
        for line in self.stdout.read_text().splitlines():
            if line.startswith("export "):
                for assignment in shlex.split(line)[1:]:
                    name, _, value = assignment.partition("=")
                    found[name] = value
        return found

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + STARTUP_S
        while _READY not in self.stderr.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the stack did not come up:\n{self.output()}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Ctrl-C, as a user stops it (the whole process group: make and its child)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def output(self) -> str:
        return (
            self.stdout.read_text(errors="replace")
            + self.stderr.read_text(errors="replace")[-4000:]
        )


def users_shell(**exports: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _NOT_IN_A_USERS_SHELL}
    env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    return env | exports


def start(command: str, folder: Path) -> Terminal:
    """Start a stack's command line from the repository root, on free ports."""
    if command.startswith("make stack"):
        command += f' STACK_ARGS="{FREE_PORTS}"'
    else:  # its own stack: its own state file too, so `make invoke` keeps to the shared one
        command += f" {FREE_PORTS} --state-file {shlex.quote(str(folder / 'state.json'))}"
    stdout, stderr = folder / "stdout.txt", folder / "stderr.txt"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=ROOT,
            env=users_shell(),
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    terminal = Terminal(process, stdout, stderr)
    try:
        terminal.wait_until_up()
    except AssertionError:
        terminal.stop()
        raise
    return terminal


def run(block: Block, exports: dict[str, str]) -> list[str]:
    """Run one block in a user's shell; what went wrong, naming its README line (or nothing)."""
    completed = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.script],
        cwd=ROOT,
        env=users_shell(**exports),
        capture_output=True,
        text=True,
        timeout=BLOCK_S,
        check=False,
    )
    output = completed.stdout + completed.stderr
    where = f"README line {block.line}"
    if completed.returncode != 0:
        return [f"{where} exited {completed.returncode}:\n{output}"]
    missing = [text for text in block.expected if text not in output]
    if missing:
        return [f"{where} did not print {missing}:\n{output}"]
    if "Traceback (most recent call last)" in output:
        return [f"{where} printed a traceback:\n{output}"]
    return []


RUNNABLE = [block for block in readme_blocks() if block.runs]
SHARED = [block for block in RUNNABLE if block.shares_the_stack]
OWN = [block for block in RUNNABLE if not block.shares_the_stack]


@pytest.mark.timeout(BLOCK_S * 3)
def test_the_examples_on_make_stack_run_as_written_in_the_readmes_order(
    tmp_path: Path,
) -> None:
    # Given the README's `make stack`, as a newcomer starts it before trying the examples
    stack = start("make stack", tmp_path)
    try:
        # When every block meant for it runs, top to bottom (later ones build on earlier ones)
        failures = [failure for block in SHARED for failure in run(block, stack.exports())]
    finally:
        stack.stop()
    # Then each exited 0 and printed what the README says it prints
    assert not failures, "\n\n".join(failures)
    assert SHARED, "no README block runs on make stack"


@pytest.mark.parametrize("block", OWN, ids=[block.label for block in OWN])
def test_an_example_with_a_stack_of_its_own_runs_as_written(block: Block, tmp_path: Path) -> None:
    # Given the stack its first line starts, as in a terminal of its own
    assert block.server is not None
    stack = start(block.server, tmp_path)
    try:
        # When the rest of the block runs with that stack's exports
        failures = run(block, stack.exports())
    finally:
        stack.stop()
    # Then it exited 0 and printed what the README says it prints
    assert not failures, "\n\n".join(failures)


def test_every_block_that_is_not_run_says_why() -> None:
    for block in readme_blocks():
        if block.language == "bash" and not block.runs:
            assert block.needs_aws or block.not_run_because, block.label


SAMPLE = """\
Upload to a deployed stack:

```bash
aws s3 cp face.jpg s3://<InputBucketName>/incoming/a/target.jpg
```

<!-- readme-test: not run: it is the test suite itself -->
```bash
make test
```

```bash
make stack                      # terminal 1
# terminal 2, after pasting the exports:
aws s3 cp local_stack/portraits/astronaut.png \\
    "s3://$INPUT_BUCKET/incoming/my pair/target.png"
# => upload: local_stack/portraits/astronaut.png
```

```bash
.venv/bin/python -m local_stack up --partner-timeout-minutes 1
while IFS= read -r f; do echo "$f"; done < <(echo one)
```

```json
{"status": "succeeded"}
```
"""


def test_the_rules_tell_aws_blocks_markers_servers_and_expectations_apart() -> None:
    aws, suite, local, own, document = blocks(SAMPLE)
    assert (aws.line, aws.needs_aws, aws.runs) == (4, True, False)
    assert (suite.not_run_because, suite.runs) == ("it is the test suite itself", False)
    assert local.runs and local.shares_the_stack and local.server == "make stack"
    assert local.script.splitlines() == [
        "# terminal 2, after pasting the exports:",
        "aws s3 cp local_stack/portraits/astronaut.png "
        '"s3://$INPUT_BUCKET/incoming/my pair/target.png"',
        "# => upload: local_stack/portraits/astronaut.png",
    ]
    assert local.expected == ["upload: local_stack/portraits/astronaut.png"]
    # process substitution is no placeholder; a stack of its own is not the shared one
    assert own.runs and not own.shares_the_stack
    assert own.server == ".venv/bin/python -m local_stack up --partner-timeout-minutes 1"
    assert not document.runs
