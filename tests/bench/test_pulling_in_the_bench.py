"""The bench measures the function as deployed: with the template's time, so that its
invocations pull the queue's next messages (a shorter function timeout silently measured a
function that never pulls)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.workload import VISIBILITY_TIMEOUT_S
from local_stack.account import ACCOUNT_ID, REGION
from local_stack.cfn import Template
from portrait_fusion.entry.message_feed import pull_threshold

ROOT = Path(__file__).resolve().parents[2]


def test_the_bench_gives_an_invocation_the_time_it_needs_to_pull() -> None:
    template = Template.load(
        ROOT / "template.yaml", stack_name="bench", region=REGION, account_id=ACCOUNT_ID
    )
    timeout = int(template.properties("FusionFunction", "Timeout")["Timeout"])
    api_timeout = float(template.document["Parameters"]["ApiTimeoutSeconds"]["Default"])
    # The mapping's function timeout is the template's, cut to the bench's visibility timeout
    function_timeout = min(timeout, VISIBILITY_TIMEOUT_S)
    assert function_timeout == timeout
    # and leaves a first pair's call enough time for the pulls that keep the slot busy
    assert function_timeout - api_timeout >= pull_threshold(api_timeout)
