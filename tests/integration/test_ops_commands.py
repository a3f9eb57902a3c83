"""The operator commands end the way `ops.exits` documents, against moto's server: done,
could not be done (1), refused (2), nothing found (3), each with a one-line message and
never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local_stack.aws import LocalStack
from ops import catalogue, erase, redrive
from ops.exits import Exit
from tests import images
from tests.harness import unique_pair


@pytest.fixture
def shell(configure: Any) -> None:
    """The environment a user's shell has after pasting `make stack`'s exports."""


def test_erasing_a_pair_that_is_not_there_says_so_and_exits_3(
    shell: None, stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = unique_pair("shoot-24")
    assert erase.main([typo]) == Exit.NOTHING_FOUND
    printed = capsys.readouterr()
    assert printed.out == ""
    assert f"pair {typo!r}: nothing left to erase" in printed.err
    assert "erased already, or no pair" in printed.err
    assert f"s3://{stack.input_bucket}/incoming/" in printed.err


def test_erasing_from_a_stack_that_does_not_exist_exits_1_without_a_traceback(
    shell: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert erase.main(["shoot-42", "--stack", "no-such-stack"]) == Exit.FAILED
    err = capsys.readouterr().err
    assert err.startswith("python -m ops.erase: error: cannot read stack 'no-such-stack': ")
    assert "ValidationError" in err
    assert err.count("\n") == 1


def test_adding_a_file_that_does_not_exist_exits_1_not_2(
    shell: None, stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "beach.jpg"
    status = catalogue.main(["add", "--bucket", stack.input_bucket, "beach", str(missing)])
    assert status == Exit.FAILED
    err = capsys.readouterr().err
    assert (
        err == f"python -m ops.catalogue: error: cannot read {missing}: No such file or directory\n"
    )


def test_adding_to_a_bucket_that_does_not_exist_exits_1(
    shell: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "beach.jpg"
    file.write_bytes(images.as_jpeg("grace_hopper.jpg", size=(420, 500)))
    assert catalogue.main(["add", "--bucket", "no-such-bucket", "beach", str(file)]) == Exit.FAILED
    err = capsys.readouterr().err
    assert "cannot add to s3://no-such-bucket/catalogue/: NoSuchBucket" in err


def test_an_id_the_pair_api_would_not_accept_is_refused_with_2(
    shell: None, stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "beach.jpg"
    file.write_bytes(images.as_jpeg("grace_hopper.jpg", size=(420, 500)))
    assert catalogue.main(["add", "--bucket", stack.input_bucket, "Beach!", str(file)]) == 2
    assert capsys.readouterr().err.startswith("refused: template id 'Beach!' must be")


def test_redriving_from_a_queue_that_does_not_exist_exits_1(
    shell: None, stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = stack.dlq_url.rsplit("/", 1)[0] + "/no-such-queue"
    status = redrive.main(["--queue-url", stack.queue_url, "--dlq-url", missing])
    assert status == Exit.FAILED
    assert "cannot move messages: " in capsys.readouterr().err
