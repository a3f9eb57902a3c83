"""A TCP proxy that adds network round-trip time, to model a function far from its services.

On one machine every round trip is free, so what a design saves in round trips (a kept-alive
TLS connection, two reads at once) cannot show. Put between a handler and a service, this
proxy delays every chunk by half the RTT in each direction, without limiting bandwidth or
modelling TCP slow start (which would cost new connections even more).
"""

from __future__ import annotations

import contextlib
import functools
import queue
import socket
import threading
import time
from collections.abc import Callable

from local_stack.running import Running

_CHUNK = 64 * 1024
_END = b""


Line = queue.SimpleQueue[tuple[float, bytes]]


class DelayProxy(Running):
    """Listens on 127.0.0.1 and forwards each connection to `upstream`, `rtt_ms` slower."""

    def __init__(self, upstream: tuple[str, int], rtt_ms: float) -> None:
        self._upstream = upstream
        self._delay_s = rtt_ms / 2000
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closing = False

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._listener.getsockname()[1])

    def start(self) -> None:
        """Accept connections in the background."""
        self._spawn(self._accept)

    def stop(self) -> None:
        """Close the listener and every connection, and wait for their threads."""
        with self._lock:
            self._closing = True
            sockets = [self._listener, *self._open]
        for sock in sockets:
            with contextlib.suppress(OSError):  # not connected, or gone already
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
                server = socket.create_connection(self._upstream)
            except OSError:  # closed by stop() (or the upstream is gone)
                return
            pair = (client, server)
            with self._lock:
                if self._closing:  # stop() has taken its list of sockets already
                    self._close(pair)
                    return
                self._open.update(pair)
            for sock in pair:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            ended = threading.Barrier(2, action=functools.partial(self._closed, pair))
            for source, sink in (pair, pair[::-1]):
                line: Line = queue.SimpleQueue()
                self._spawn(self._read, source, line)
                self._spawn(self._write, line, sink, ended)

    def _closed(self, pair: tuple[socket.socket, socket.socket]) -> None:
        with self._lock:
            self._close(pair)

    def _close(self, pair: tuple[socket.socket, socket.socket]) -> None:
        self._open.difference_update(pair)
        for sock in pair:
            sock.close()

    def _read(self, source: socket.socket, line: Line) -> None:
        """Timestamp each chunk as it arrives; an empty chunk marks the end."""
        while True:
            try:
                data = source.recv(_CHUNK)
            except OSError:
                data = _END
            line.put((time.monotonic() + self._delay_s, data))
            if data == _END:
                return

    def _write(self, line: Line, sink: socket.socket, ended: threading.Barrier) -> None:
        """Send each chunk once its delay is over (a delay line: delays never add up); when
        both directions have ended, the connection's sockets are closed."""
        with contextlib.suppress(OSError, threading.BrokenBarrierError):
            while (item := line.get())[1] != _END:
                time.sleep(max(0.0, item[0] - time.monotonic()))
                sink.sendall(item[1])
            time.sleep(max(0.0, item[0] - time.monotonic()))
            sink.shutdown(socket.SHUT_WR)
        with contextlib.suppress(threading.BrokenBarrierError):
            ended.wait()
