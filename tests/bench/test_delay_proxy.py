"""The benchmark's network model: a proxy that adds round-trip time and nothing else."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from benchmarks.latency import DelayProxy


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    """A TCP server on 127.0.0.1 that sends back what it receives, until the client ends."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with listener.accept()[0] as conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[:2]
    thread.join(timeout=5)
    listener.close()


def test_a_round_trip_through_the_proxy_takes_the_rtt_and_keeps_every_byte(
    echo_server: tuple[str, int],
) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB: bandwidth is not limited
    with (
        DelayProxy(echo_server, rtt_ms=60) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port)) as client,
    ):
        started = time.monotonic()
        client.sendall(b"ping")
        assert client.recv(16) == b"ping"
        round_trip = time.monotonic() - started
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        received = b""
        while data := client.recv(65536):
            received += data
    assert 0.06 <= round_trip < 0.5
    assert received == payload


def test_closing_the_proxy_ends_its_connections_and_threads(
    echo_server: tuple[str, int],
) -> None:
    before = set(threading.enumerate())
    with DelayProxy(echo_server, rtt_ms=10) as proxy:
        client = socket.create_connection(("127.0.0.1", proxy.port))
        client.sendall(b"x")
        assert client.recv(1) == b"x"
    # The proxy cut the idle connection: the client sees the end, no thread is left
    assert client.recv(1) == b""
    client.close()
    # the echo server's side of the connection may take a moment to see the end too
    deadline = time.monotonic() + 2
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not set(threading.enumerate()) - before
