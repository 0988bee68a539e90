"""The gateway's HTTP server: standard-library ``ThreadingHTTPServer``, one thread a connection.

What lives here: reading an HTTP/1.1 request (keep-alive, bounded ``Content-Length``),
handing it to :class:`~insightforge.gateway.app.Gateway`, and writing the reply — JSON with a
``Content-Length``, or SSE with chunked transfer encoding so the connection survives the
stream. When the client goes away mid-stream (a write fails), the upstream
:class:`~insightforge.ChatStream` is closed at once, so every layer sees the abandonment
(budgets release, audit logs write) and the provider's connection is dropped.

What must not live here: routing and the OpenAI mapping (:mod:`.app`, :mod:`.wire`,
:mod:`.replies`). A client that disconnects while the upstream is silent is noticed at the
next chunk: the provider's ``timeout`` bounds that wait.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from insightforge.gateway.app import Gateway, Reply, StreamReply

__all__ = ["MAX_BODY", "GatewayServer"]

MAX_BODY = 16 * 1024 * 1024
_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)
log = logging.getLogger("insightforge.gateway")


class _Handler(BaseHTTPRequestHandler):
    """One connection: reads requests until the client closes or stays idle too long."""

    protocol_version = "HTTP/1.1"
    server_version = "InsightForge-Gateway"
    timeout = 120  # seconds an idle keep-alive connection is kept
    server: GatewayServer

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every reply
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        body = self._body()
        if body is not None:
            self._dispatch(body)

    do_PUT = do_DELETE = do_PATCH = do_POST

    def _body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._write(Reply(411, _plain("send the body with a Content-Length")), close=True)
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._write(Reply(413 if length > 0 else 400,
                              _plain(f"Content-Length must be 0..{MAX_BODY} bytes")), close=True)
            return None
        return self.rfile.read(length)

    def _dispatch(self, body: bytes) -> None:
        reply = self.server.gateway.handle(self.command, self.path, self.headers.items(), body)
        if isinstance(reply, StreamReply):
            self._stream(reply)
        else:
            self._write(reply)

    def _write(self, reply: Reply, *, close: bool = False) -> None:
        data = json.dumps(reply.body, separators=(",", ":")).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers:
                self.send_header(name, value)
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)
        except _GONE:
            self.close_connection = True

    def _stream(self, reply: StreamReply) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in reply.events:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.write(b"0\r\n\r\n")
        except _GONE:
            log.info("gateway: client went away mid-stream; closing the upstream stream")
            self.close_connection = True
        finally:
            reply.close()

    def log_message(self, format: str, *args: object) -> None:
        if self.server.access_log:
            log.info("%s %s", self.address_string(), format % args)


def _plain(message: str) -> dict[str, object]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None,
                      "code": None}}


class GatewayServer(ThreadingHTTPServer):
    """The gateway on ``host:port`` (``port=0`` picks a free one).

    >>> with GatewayServer(Gateway(llm), port=0).start() as server:   # doctest: +SKIP
    ...     print(server.url)                                         # http://127.0.0.1:PORT/v1

    ``serve_forever()`` blocks (the CLI); :meth:`start` serves in a daemon thread (tests,
    notebooks) and :meth:`stop` (or leaving the ``with``) shuts it down.

    Attributes:
        gateway: the application. access_log: log one line per request (logger
        ``insightforge.gateway``).
    """

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 8080, *,
                 access_log: bool = False) -> None:
        super().__init__((host, port), _Handler)
        self.gateway = gateway
        self.access_log = access_log
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` (the address actually bound)."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """The OpenAI ``base_url`` clients use: ``http://host:port/v1``."""
        return self.base_url + "/v1"

    def start(self) -> GatewayServer:
        """Serve in a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.serve_forever,
                                            kwargs={"poll_interval": 0.05},
                                            name=f"insightforge-gateway:{self.url}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting requests and close the listening socket."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()

    def __enter__(self) -> GatewayServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
