"""A handler in a process of its own, as in a Lambda execution environment, with a stopwatch.

The process imports the local runtime first (Lambda's bootstrap is loaded before the
function), then the handler, then answers one no-op event (an S3 test notification in an
SQS batch from the bench's queue, `BENCH_QUEUE_ARN`), so whatever a handler sets up lazily on
its first invocation counts as start-up too. Each invocation gets an X-Ray trace header, as
in Lambda: the first sampled (Lambda samples the first request each second), the others not.
The parent times that from spawn to the child's "ready" line. Then the child handles
events one per line from stdin and reports, for each, its wall time, its CPU time (all
threads) and the process' peak RSS so far: `VmHWM`, which unlike `ru_maxrss` does not
include the RSS of the big parent the child was forked from. The parent notes the window of
each event (`time.monotonic()`), in which only the handler talks to moto and the emulator.
With `BENCH_PROFILE=<file>` in its environment, the child samples its stacks while the
handler runs (from the second event on; see `profiling`) and writes them to that file.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Container, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from local_stack.running import Running

ROOT = Path(__file__).resolve().parent.parent
PYCACHE = Path(tempfile.gettempdir()) / "portrait-fusion-bench-pycache"
# The child. Nothing but the runtime stand-in is imported before the clock starts; what
# the handler prints goes to stderr, so stdout carries only this protocol.
_CHILD = """
import json, os, sys, time
from local_stack.lambda_runtime import LambdaContext, sqs_event, sqs_message, trace_header
protocol = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
module, _, name = sys.argv[1].rpartition(".")
started = time.perf_counter()
__import__(module)  # not importlib.import_module: -X importtime does not see that one
handler = getattr(sys.modules[module], name)
imported = time.perf_counter()
test_event = '{"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "bench"}'
event = sqs_event([sqs_message(test_event)], queue_arn=os.environ["BENCH_QUEUE_ARN"])
os.environ["_X_AMZN_TRACE_ID"] = trace_header(sampled=True)  # as Lambda: per invocation
handler(event, LambdaContext.create(timeout_s=60, memory_mb=512))
ready = time.perf_counter()
protocol.write("READY %.3f %.3f\\n" % ((imported - started) * 1e3, (ready - started) * 1e3))
sampler = None
if os.environ.get("BENCH_PROFILE"):  # a profile's own sandbox: never a measured one
    from benchmarks.profiling import Sampler
    sampler = Sampler()
for index, line in enumerate(sys.stdin):
    event, context = json.loads(line), LambdaContext.create(timeout_s=120, memory_mb=512)
    os.environ["_X_AMZN_TRACE_ID"] = trace_header(sampled=False)
    if sampler is not None and index:  # the first pair pays what was deferred: not warm
        sampler.resume()
    wall, cpu = time.perf_counter(), time.process_time()
    response = handler(event, context)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if sampler is not None:
        sampler.pause()
    with open("/proc/self/status") as status:
        peak_kb = int(status.read().split("VmHWM:")[1].split()[0])
    failures = len((response or {}).get("batchItemFailures", []))
    protocol.write("DONE %.3f %.3f %d %d\\n" % (wall * 1e3, cpu * 1e3, peak_kb, failures))
if sampler is not None:
    sampler.write(os.environ["BENCH_PROFILE"])
"""


@dataclass(frozen=True)
class Startup:
    """A cold start, in ms: spawn to ready, and the handler's share of it."""

    wall_ms: float
    import_ms: float
    init_ms: float  # import plus the first (no-op) invocation


@dataclass(frozen=True)
class Handled:
    """One event: wall and CPU time in ms, the process' peak RSS so far in MB, and the
    window (`time.monotonic()`) from handing the event over to the reply."""

    wall_ms: float
    cpu_ms: float
    peak_rss_mb: float
    start: float
    end: float


class Sandbox(Running):
    """One handler process; `with Sandbox(...) as box:` starts it, `box.invoke(event)` uses it.

    The handler's output (and `-X importtime`'s, with `importtime=True`) goes to `log`.
    """

    def __init__(
        self, handler: str, env: Mapping[str, str], log: Path, *, importtime: bool = False
    ) -> None:
        self.handler = handler
        self._env = env
        self._log_path = log
        self._importtime = importtime
        self._log: IO[str] | None = None
        self._process: subprocess.Popen[str] | None = None
        self.startup: Startup | None = None

    def start(self) -> None:
        """Start the process and wait for its handler to be ready (stopped again if not)."""
        self._log = self._log_path.open("a")
        flags = ["-X", "importtime"] if self._importtime else []
        started = time.perf_counter()
        self._process = subprocess.Popen(
            [sys.executable, *flags, "-c", _CHILD, self.handler],
            env=_child_env(self._env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        try:
            ready = self._reply("READY")
        except RuntimeError:
            self.stop()
            raise
        wall_ms = (time.perf_counter() - started) * 1000
        self.startup = Startup(wall_ms, *(float(v) for v in ready))

    def invoke(self, event: dict[str, Any]) -> Handled:
        """Hand the handler one event; raise if it reports failed messages."""
        assert self._process is not None and self._process.stdin is not None
        line = json.dumps(event) + "\n"
        start = time.monotonic()
        self._process.stdin.write(line)
        self._process.stdin.flush()
        wall_ms, cpu_ms, peak_kb, failures = self._reply("DONE")
        end = time.monotonic()
        if int(failures):
            raise RuntimeError(f"{self.handler} reported {failures} failed message(s)")
        return Handled(float(wall_ms), float(cpu_ms), int(peak_kb) / 1024, start, end)

    def _reply(self, kind: str) -> list[str]:
        assert self._process is not None and self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith(kind + " "):
            raise RuntimeError(
                f"{self.handler} failed (exit code {self._process.poll()}); see {self._log_path}"
            )
        return line.split()[1:]

    def stop(self) -> None:
        """End the events (the child exits), waiting a little before killing it."""
        if self._process is not None:
            assert self._process.stdin is not None
            with contextlib.suppress(BrokenPipeError):  # the child is gone already
                self._process.stdin.close()  # end of events: the child exits
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
        if self._log is not None:
            self._log.close()


def _child_env(env: Mapping[str, str]) -> dict[str, str]:
    path = os.pathsep.join([str(ROOT / "functions" / "fusion"), str(ROOT)])
    # As in Lambda (and the local stack's workers), no developer AWS_* variable leaks in.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # Lambda loads dependencies compiled to bytecode at build time (`sam build` runs pip);
    # with PYTHONDONTWRITEBYTECODE set, every sample would compile every module instead.
    return {
        **inherited,
        **env,
        # As Lambda sets it: the handler's init gets ready for the first pair by it.
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "PYTHONPATH": path,
        "PYTHONDONTWRITEBYTECODE": "",
        "PYTHONPYCACHEPREFIX": str(PYCACHE),
    }


def import_breakdown(handler: str, env: Mapping[str, str]) -> dict[str, float]:
    """Milliseconds of import time by top-level package (stdlib modules as one "stdlib"), from
    a new process until its handler is ready, as the cold start figure counts it.
    """
    with tempfile.TemporaryDirectory(prefix="importtime-") as workdir:
        log = Path(workdir) / "stderr.log"
        with Sandbox(handler, env, log, importtime=True):
            pass
        handler_lines = log.read_text()
    runtime = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import local_stack.lambda_runtime"],
        env=_child_env(env),
        capture_output=True,
        text=True,
        check=True,
    )
    skip = {line.split("|")[2].strip() for line in _importtime_lines(runtime.stderr)}
    totals = parse_importtime(handler_lines, skip=skip)
    # The handler's own package: for the baseline that includes its module-level clients.
    own = totals.pop(handler.split(".", maxsplit=1)[0], 0.0)
    return {"(handler's own code)": own, **totals}


def _importtime_lines(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if line.startswith("import time:") and "self [us]" not in line
    ]


def parse_importtime(stderr: str, skip: Container[str] = frozenset()) -> dict[str, float]:
    """Sum `-X importtime` self times (ms) by top-level package, largest first."""
    totals: defaultdict[str, float] = defaultdict(float)
    for line in _importtime_lines(stderr):
        self_us, _cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        if name in skip:
            continue
        root = name.split(".")[0]
        totals["stdlib" if root in sys.stdlib_module_names else root] += int(self_us) / 1000
    return {name: round(ms, 1) for name, ms in sorted(totals.items(), key=lambda kv: -kv[1])}
