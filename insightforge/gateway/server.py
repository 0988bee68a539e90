"""Serving the application with uvicorn (httptools, uvloop): in a thread, or as the command.

What lives here: :class:`BoundedHttpTools` (uvicorn's httptools protocol with a bound on the
request head: URL plus headers), :func:`uvicorn_config` (the one place the server options
are set: backlog 2048, no ``Server`` header, graceful shutdown), :class:`GatewayServer`
(a server on a loopback port in a background thread: tests, notebooks) and :func:`run`
(the command: one process, or ``workers`` processes sharing one listening socket, each
building its gateway from the same spec through :func:`worker_app`).

HTTP parsing is httptools' (llhttp): a duplicate ``Content-Length``, ``Content-Length:
+75`` or ``7_5``, or both ``Content-Length`` and ``Transfer-Encoding`` are refused by the
parser with a 400 and the connection closed. What must not live here: routing, endpoints.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["BACKLOG", "SPEC_ENV", "BoundedHttpTools", "GatewayServer", "listen", "run",
           "uvicorn_config", "worker_app"]

BACKLOG = 2048
SPEC_ENV = "INSIGHTFORGE_GATEWAY_SPEC"
KEYS_ENV = "INSIGHTFORGE_GATEWAY_KEYS"


class BoundedHttpTools(HttpToolsProtocol):
    """httptools with a cap on the request head (``max_head`` bytes): past it, a 431 and a
    lingering close (our side shut for writing, the rest of the head read and dropped for
    a moment), so the client reads the 431 instead of a connection reset."""

    max_head = 64 * 1024
    _in_head = False
    _head_bytes = 0
    _discarding = False

    def on_message_begin(self) -> None:
        self._in_head = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        super().data_received(data)
        if self._in_head and self.transport is not None and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head:
                self._refuse_head()

    def _refuse_head(self) -> None:
        self._discarding = True
        self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                             b"content-type: text/plain\r\ncontent-length: 36\r\n"
                             b"connection: close\r\n\r\n"
                             b"request head (URL + headers) too big")
        if self.transport.can_write_eof():
            self.transport.write_eof()
            asyncio.get_running_loop().call_later(2.0, self.transport.close)
        else:  # pragma: no cover - TCP transports can always half-close
            self.transport.close()


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket (``port=0``: a free one) with a backlog sized for bursts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Any, *, workers: int = 1, factory: bool = False,
                   graceful_seconds: int = 30, max_head: int = 64 * 1024) -> Any:
    """The server options, in one place."""
    import uvicorn

    BoundedHttpTools.max_head = max_head
    return uvicorn.Config(app, factory=factory, workers=workers, loop="uvloop",
                          http=BoundedHttpTools, backlog=BACKLOG, server_header=False,
                          date_header=True, access_log=False, log_level="warning",
                          lifespan="on", timeout_graceful_shutdown=graceful_seconds,
                          timeout_keep_alive=75, proxy_headers=False)


class GatewayServer:
    """The application on a loopback port, served from a daemon thread until ``stop()``.

    Attributes:
        base_url: ``http://HOST:PORT``; url: ``base_url + "/v1"`` (an SDK's base URL).
        server_address: ``(host, port)``.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *,
                 graceful_seconds: int = 5, max_head: int = 64 * 1024) -> None:
        import uvicorn

        self._sock = listen(host, port)
        self.server_address: tuple[str, int] = self._sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{self.server_address[1]}"
        self.url = self.base_url + "/v1"
        self._server = uvicorn.Server(uvicorn_config(app, graceful_seconds=graceful_seconds,
                                                     max_head=max_head))
        self._thread: threading.Thread | None = None

    def start(self) -> GatewayServer:
        """Serve in a daemon thread; returns once the server accepts requests."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.run, args=([self._sock],),
                                            name=f"insightforge-gateway:{self.server_address[1]}",
                                            daemon=True)
            self._thread.start()
            while not self._server.started:
                if not self._thread.is_alive():
                    raise RuntimeError("the gateway server did not start; see the log")
                self._thread.join(0.005)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, let in-flight requests finish (graceful), run the shutdown."""
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout)
            self._thread = None
        self._sock.close()

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


# -- the command ---------------------------------------------------------------------------


def worker_app() -> Any:
    """The application of one worker, built from the spec in ``$INSIGHTFORGE_GATEWAY_SPEC``
    (config source, provider, key store, access log) and keys in
    ``$INSIGHTFORGE_GATEWAY_KEYS``; uvicorn calls it in each worker process."""
    from insightforge.gateway.app import create_app
    from insightforge.gateway.core import Gateway

    spec = json.loads(os.environ[SPEC_ENV])
    keys = os.environ.get(KEYS_ENV, "").split()
    gateway = Gateway.from_config(spec["config"], api_keys=keys, key_store=spec.get("store"),
                                  provider=spec.get("provider"))
    BoundedHttpTools.max_head = gateway.settings.max_header_bytes
    if spec.get("access_log"):
        from insightforge.gateway.accesslog import to_stderr

        to_stderr()
    return create_app(gateway, access_log=bool(spec.get("access_log")))


def run(sock: socket.socket, *, spec: Mapping[str, Any], workers: int = 1,
        graceful_seconds: int = 30, on_start: Callable[[], None] | None = None) -> None:
    """Serve on ``sock`` until SIGINT/SIGTERM: one process, or ``workers`` processes.

    Every process builds its own gateway from ``spec`` (:func:`worker_app`); with several,
    their budgets, rate limits and caches are shared only through SQLite or Redis stores,
    and /metrics reads every worker's samples (``PROMETHEUS_MULTIPROC_DIR``, made here
    when unset).
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    os.environ[SPEC_ENV] = json.dumps(spec)
    cleanup = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        cleanup = tempfile.TemporaryDirectory(prefix="insightforge-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = cleanup.name
    try:
        config = uvicorn_config(f"{__name__}:worker_app", factory=True, workers=workers,
                                graceful_seconds=graceful_seconds)
        if on_start is not None:
            on_start()
        if workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        if cleanup is not None:
            cleanup.cleanup()
