"""How the operator commands end: one exit status per kind of ending, the same in each command.

- 0 done;
- 1 could not be done: a file that cannot be read, a stack, bucket or queue that is not
  there, no credentials, AWS unreachable (the message says which);
- 2 refused: a wrong command line, or input the API's rules refuse (the message names the
  rule);
- 3 nothing found: `ops.erase` found nothing of the pair (erased already, or a mistyped id).
"""

from __future__ import annotations

import sys
from enum import IntEnum

from botocore.exceptions import BotoCoreError, ClientError


class Exit(IntEnum):
    """The exit statuses of the operator commands."""

    DONE = 0
    FAILED = 1
    REFUSED = 2
    NOTHING_FOUND = 3


AWS_ERRORS = (BotoCoreError, ClientError)
"""What boto3 raises when AWS (or the local stack) cannot do a request."""


def fail(prog: str, message: str) -> Exit:
    """Print `message` as the command's error and return `Exit.FAILED`."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return Exit.FAILED


def aws_problem(exc: BotoCoreError | ClientError) -> str:
    """What went wrong with an AWS request, in one line (no traceback)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', exc)}"
    return str(exc)
