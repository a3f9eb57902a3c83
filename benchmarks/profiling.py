"""A sampling profile of a handler's warm pairs, as folded stacks (flamegraph.pl, speedscope).

Inside a sandbox child started with `BENCH_PROFILE=<file>`, a `Sampler` thread looks at
every thread's stack about once a millisecond while the handler runs, and writes the
stacks it saw when the child ends. A thread waiting for work (an idle pool thread, a
thread waiting on a lock or a future) is left out: its time belongs to whoever does the
work. What remains is wall time spent on the handler's work, on the CPU or waiting for a
server. Each sample weighs the microseconds since the previous one: a sampler delayed by a
busy interpreter does not under-count what kept it busy.

Only the standard library is imported here: the child imports this module.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ENV = "BENCH_PROFILE"
_INTERVAL_S = 0.001
# (file name, function) of a thread's innermost Python frame while it waits for work.
_WAITING = frozenset(
    {
        ("threading.py", "wait"),
        ("threading.py", "_wait_for_tstate_lock"),
        ("queue.py", "get"),
        ("thread.py", "_worker"),  # concurrent.futures' pool thread, blocked on its queue
    }
)

# Innermost frames (qualname) of a thread blocked on a socket: wall time with next to no CPU.
_SOCKET_WAITS = frozenset(
    {
        "SocketIO.readinto",
        "SSLSocket.read",
        "SSLSocket.recv_into",
        "socket.recv",
        "poll_wait_for_socket.<locals>.do_poll",
        "select",
    }
)

Stack = tuple[str, ...]


def frame_label(frame: FrameType) -> str:
    """`qualname (module file:line of def)`, with what folded stacks cannot hold removed."""
    code = frame.f_code
    path = code.co_filename
    short = path.split("site-packages/")[-1] if "site-packages/" in path else Path(path).name
    return f"{code.co_qualname} ({short}:{code.co_firstlineno})".replace(";", ",")


def stack_of(frame: FrameType | None) -> Stack:
    """The stack from its outermost frame to `frame`."""
    labels = []
    while frame is not None:
        labels.append(frame_label(frame))
        frame = frame.f_back
    return tuple(reversed(labels))


def is_waiting(frame: FrameType) -> bool:
    """Whether a thread whose innermost frame is `frame` waits for work."""
    return (Path(frame.f_code.co_filename).name, frame.f_code.co_name) in _WAITING


class Sampler:
    """Samples the working threads' stacks while resumed; `write` puts them in a file."""

    def __init__(self) -> None:
        self.stacks: Counter[Stack] = Counter()
        self._resumed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()

    def resume(self) -> None:
        """Start (or go on) sampling."""
        self._resumed.set()

    def pause(self) -> None:
        """Stop sampling until `resume`."""
        self._resumed.clear()

    def write(self, path: str | Path) -> None:
        """Write what was sampled as folded stacks."""
        Path(path).write_text(fold(self.stacks))

    def _run(self) -> None:
        own = threading.get_ident()
        last = time.perf_counter()
        while True:
            if not self._resumed.is_set():
                self._resumed.wait()
                last = time.perf_counter()
            time.sleep(_INTERVAL_S)
            now = time.perf_counter()
            weight = round((now - last) * 1e6)
            last = now
            for ident, frame in sys._current_frames().items():
                if ident != own and not is_waiting(frame):
                    self.stacks[stack_of(frame)] += weight


def fold(stacks: Mapping[Stack, int]) -> str:
    """Folded stacks: one `outer;...;inner count` line per stack, heaviest first."""
    lines = [
        f"{';'.join(stack)} {count}"
        for stack, count in sorted(stacks.items(), key=lambda kv: (-kv[1], kv[0]))
        if stack and count > 0
    ]
    return "".join(line + "\n" for line in lines)


def parse_folded(text: str) -> dict[Stack, int]:
    """Folded stacks back to counts (lines for one stack are added up)."""
    stacks: Counter[Stack] = Counter()
    for line in text.splitlines():
        frames, _, count = line.rstrip().rpartition(" ")
        if frames and count.isdigit():
            stacks[tuple(frames.split(";"))] += int(count)
    return dict(stacks)


def off_the_network(stacks: Mapping[Stack, int]) -> dict[Stack, int]:
    """The stacks not waiting on a socket: roughly where the CPU time goes."""
    return {
        stack: count
        for stack, count in stacks.items()
        if stack and stack[-1].split(" (", 1)[0] not in _SOCKET_WAITS
    }


@dataclass(frozen=True)
class FunctionTime:
    """A function's share of a profile: its own samples, and those it was on the stack for."""

    function: str
    self_count: int
    total_count: int


def top_functions(stacks: Mapping[Stack, int], top: int = 10) -> list[FunctionTime]:
    """The `top` functions by self count (innermost frame), with their inclusive count."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for stack, count in stacks.items():
        own[stack[-1]] += count
        for label in set(stack):  # a recursive function counts once per sample
            total[label] += count
    return [FunctionTime(name, count, total[name]) for name, count in own.most_common(top)]
