"""``python -m local_stack invoke EVENT``: one event file through the running local stack.

``python -m local_stack up`` writes what the function needs to reach the stack (its
environment: endpoints, bucket, table and secret names; never the API key) to
``STATE_FILE`` (with the local JWT issuer's signing key, for ``python -m local_stack
token``). This command reads it, puts the stack's input bucket where the ``events/`` files
name the example bucket, and runs the function on the event in a fresh
execution environment, as Lambda's *Test* button would: the same table, so a pair the stack
finished already is answered from its record, without a second paid call.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_stack.lambda_runtime import ExecutionEnvironment, InvocationResult

# Where `up` leaves the running stack's wiring; removed when the stack stops.
STATE_FILE = Path("out/stack/state.json")
# The bucket the console-ready events in `events/` name (see the README's entry points).
EXAMPLE_INPUT_BUCKET = "portrait-fusion-input-123456789012-us-east-1-0a1b2c3d"


@dataclass(frozen=True)
class StackState:
    """What a second process needs to invoke the function against a running stack."""

    handler: str
    input_bucket: str
    function_env: dict[str, str]
    timeout_s: float
    memory_size_mb: int
    pair_api_issuer: dict[str, str] | None = None
    """The local Pair API's issuer (:meth:`~local_stack.jwt_issuer.LocalIssuer.to_state`)."""

    def save(self, path: Path = STATE_FILE) -> None:
        """Write the state, owner-readable only: it names local endpoints and credentials and
        holds the issuer's signing key."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps(self.__dict__, indent=2))

    @classmethod
    def load(cls, path: Path = STATE_FILE) -> StackState:
        """The state `up` wrote; a clear error when no stack is running."""
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found: start the local stack first (`make stack`) "
                "and run this from the project's folder"
            )
        return cls(**json.loads(path.read_text()))


def localise(event_text: str, input_bucket: str) -> Any:
    """The event with the example bucket replaced by the local stack's input bucket."""
    return json.loads(event_text.replace(EXAMPLE_INPUT_BUCKET, input_bucket))


def invoke(event_file: Path, state: StackState) -> InvocationResult:
    """Run the function once on ``event_file`` with the stack's wiring."""
    event = localise(event_file.read_text(), state.input_bucket)
    environment = ExecutionEnvironment(
        state.handler,
        env=state.function_env,
        timeout_s=state.timeout_s,
        memory_size_mb=state.memory_size_mb,
    )
    try:
        return environment.invoke(event)
    finally:
        environment.close()


def print_invocation(invocation: InvocationResult) -> int:
    """Print the response (or the error) as the Lambda console does; the exit status."""
    payload = invocation.response if invocation.status == "success" else invocation.error
    print(json.dumps(payload, indent=2, default=str))
    print(f"# {invocation.status} in {invocation.duration_ms:.0f} ms", file=sys.stderr)
    return 0 if invocation.status == "success" else 1
