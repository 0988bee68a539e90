"""A loopback proxy that makes a stream stall mid-way: it forwards each request to the
emulator, relays the answer's head and its first ``frames`` body chunks (the emulator sends
one stream event per HTTP chunk), then holds the connection open and silent until the
client gives up or the proxy stops — a read timeout mid-stream, over a real socket.

(Issue 13 adds a stall-mid-stream fault to the emulator itself; this helper only serves
the tests of the *message* a stall ends with.)
"""

from __future__ import annotations

import socket
import socketserver
import threading
from typing import Any

__all__ = ["StallProxy"]


def _read_until(sock: socket.socket, buffer: bytearray, marker: bytes) -> int:
    while (at := buffer.find(marker)) < 0:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("upstream closed early")
        buffer += data
    return at


def _read_exactly(sock: socket.socket, buffer: bytearray, size: int) -> None:
    while len(buffer) < size:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("upstream closed early")
        buffer += data


def _request(client: socket.socket) -> bytes:
    """One whole HTTP request (head and Content-Length body) from the client."""
    buffer = bytearray()
    end = _read_until(client, buffer, b"\r\n\r\n") + 4
    length = 0
    for line in bytes(buffer[:end]).split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    _read_exactly(client, buffer, end + length)
    return bytes(buffer[:end + length])


def _answer(upstream: socket.socket) -> tuple[bytes, list[bytes]]:
    """The upstream answer's head and its chunked body as raw frames (each with framing)."""
    buffer = bytearray()
    end = _read_until(upstream, buffer, b"\r\n\r\n") + 4
    head, rest = bytes(buffer[:end]), bytearray(buffer[end:])
    frames: list[bytes] = []
    while True:
        line_end = _read_until(upstream, rest, b"\r\n")
        size = int(bytes(rest[:line_end]), 16)
        total = line_end + 2 + size + 2
        _read_exactly(upstream, rest, total)
        frames.append(bytes(rest[:total]))
        del rest[:total]
        if size == 0:
            return head, frames


class StallProxy:
    """``with StallProxy(emulator.port, frames=5) as proxy: ... proxy.url ...``."""

    def __init__(self, upstream_port: int, frames: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.frames = frames
        self.stop = threading.Event()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _serve(self, client: socket.socket) -> None:
        request = _request(client)
        with socket.create_connection(self.upstream, timeout=10) as upstream:
            upstream.sendall(request)
            head, frames = _answer(upstream)
        client.sendall(head + b"".join(frames[:self.frames]))
        while not self.stop.wait(0.05):  # silent, until the client leaves or we stop
            try:
                if client.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                    return
            except BlockingIOError:
                continue
            except OSError:
                return

    def __enter__(self) -> StallProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()
