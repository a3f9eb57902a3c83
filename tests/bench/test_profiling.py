"""The profile: stacks of working threads, folded stacks both ways, top functions, the graph."""

from __future__ import annotations

import sys
import threading
import time

from benchmarks.flamegraph import call_tree, draw
from benchmarks.profiling import (
    Sampler,
    fold,
    is_waiting,
    off_the_network,
    parse_folded,
    stack_of,
    top_functions,
)

STACKS = {
    ("main", "handler", "read"): 30,
    ("main", "handler", "merge", "encode"): 50,
    ("main", "handler"): 20,
    ("main", "idle"): 0,
}


def test_folded_stacks_read_back_as_written_heaviest_first_without_empty_ones() -> None:
    text = fold(STACKS)
    assert text.splitlines()[0] == "main;handler;merge;encode 50"
    assert "idle" not in text
    assert parse_folded(text) == {k: v for k, v in STACKS.items() if v}


def test_folded_lines_of_one_stack_add_up_and_junk_lines_are_skipped() -> None:
    assert parse_folded("a;b 2\na;b 3\nnot a line\n\n") == {("a", "b"): 5}


def test_top_functions_rank_by_self_time_and_count_recursion_once() -> None:
    top = top_functions({**STACKS, ("main", "f", "f"): 15}, top=3)
    assert [(t.function, t.self_count) for t in top] == [
        ("encode", 50),
        ("read", 30),
        ("handler", 20),
    ]
    recursive = top_functions({("main", "f", "f"): 15})
    assert [(t.function, t.total_count) for t in recursive] == [("f", 15)]


def test_a_thread_waiting_for_work_is_idle_one_computing_is_not() -> None:
    go = threading.Event()
    waiter = threading.Thread(target=go.wait, daemon=True)
    waiter.start()
    time.sleep(0.05)
    try:
        frames = sys._current_frames()
        assert is_waiting(frames[waiter.ident or 0])
        me = frames[threading.get_ident()]
        assert not is_waiting(me)
        assert "test_a_thread_waiting_for_work_is_idle" in stack_of(me)[-1]
    finally:
        go.set()
        waiter.join()


def busy(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


def test_the_sampler_sees_the_working_thread_only_while_resumed() -> None:
    sampler = Sampler()
    busy(0.05)  # not resumed: nothing sampled
    assert not sampler.stacks
    sampler.resume()
    busy(0.2)
    sampler.pause()
    sampled = dict(sampler.stacks)
    assert any("busy" in stack[-1] for stack in sampled)
    assert not any("bench-sampler" in label for stack in sampled for label in stack)


def test_the_call_tree_sums_the_stacks_through_each_frame_and_the_graph_draws() -> None:
    tree = call_tree(STACKS)
    assert tree.count == 100
    assert tree.children["main"].children["handler"].count == 100
    assert tree.depth() == 5  # all, main, handler, merge, encode
    assert draw(STACKS, "title").height > draw({("main",): 1}, "title").height


def test_stacks_waiting_on_a_socket_are_left_out_of_the_cpu_view() -> None:
    stacks = {
        ("h (x.py:1)", "SocketIO.readinto (socket.py:706)"): 90,
        ("h (x.py:1)", "decode (img.py:3)"): 10,
    }
    assert off_the_network(stacks) == {("h (x.py:1)", "decode (img.py:3)"): 10}
