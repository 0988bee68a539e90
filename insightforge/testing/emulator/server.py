"""The HTTP server: reading requests, applying faults, writing responses.

What lives here: `ServerState` (what every handler thread shares: keys, fault queue,
request log, id counter, stop event, open connections), `EmulatorServer` (a
`ThreadingHTTPServer` speaking HTTP/1.1 keep-alive with daemon threads) and the request
handler, whose per-request path is kept short because benchmarks measure it.

The per-request pipeline: parse -> route -> JSON -> key check -> take a fault -> record ->
apply the fault / run the endpoint -> write. Invalid JSON, a wrong key and an unknown path
are answered before any fault is taken, so they never consume one. Standard library only.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import select
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from . import injection, routes
from .faults import Fault, FaultQueue
from .http_head import HeadError, read_head
from .prompt_cache import PromptCache
from .records import RecordedRequest, RequestLog
from .wire_common import ApiError, Body, Stream, WireRequest, dumps

__all__ = ["STALL_LIMIT", "EmulatorServer", "ServerState"]

STALL_LIMIT = 60.0
"""The longest a stalled request holds its connection (seconds)."""

_CHUNKED = "Transfer-Encoding: chunked"
_REASONS = {status.value: status.phrase for status in HTTPStatus} | {529: "Site Overloaded"}


class ServerState:
    """State shared by the handler threads of one emulator (keys, faults, the request log,
    the prompt cache, ids, connections)."""

    def __init__(self, api_keys: frozenset[str] | None, log_limit: int | None = None) -> None:
        self.api_keys = api_keys
        self.faults = FaultQueue()
        self.log = RequestLog(log_limit)
        self.prompt_cache = PromptCache()
        self.stopping = threading.Event()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    def next_id(self) -> int:
        """The next number of the reply id counter (thread-safe under the GIL)."""
        return next(self._ids)

    def reset_ids(self) -> None:
        """Restart the id counter at 1."""
        self._ids = itertools.count(1)

    def track(self, connection: socket.socket, open_: bool) -> None:
        """Remember (or forget) an open client connection."""
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open client connection (idle keep-alive and stalled alike)."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            _shutdown(connection)


def _shutdown(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTP/1.1 server carrying a `ServerState`."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        self.state = state
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that went away; report anything else."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def _peer_closed(connection: socket.socket) -> bool:
    """True when the client has closed its end (without consuming what it sent)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _streams(body: Any) -> bool:
    """Whether a chat body asks for a stream."""
    return isinstance(body, dict) and body.get("stream") is True


def _parse_json(raw: bytes) -> tuple[Any, bool]:
    if not raw:
        return None, True
    try:
        return json.loads(raw), True
    except ValueError:
        return None, False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: EmulatorServer
    fields: dict[str, str]
    raw_requestline: bytes

    def setup(self) -> None:
        super().setup()
        self.server.state.track(self.connection, True)

    def finish(self) -> None:
        self.server.state.track(self.connection, False)
        super().finish()

    def parse_request(self) -> bool:
        """Parse the head with `http_head.read_head` (lean) instead of the email parser."""
        self.command, self.request_version, self.close_connection = "", "HTTP/1.0", True
        self.requestline = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n")
        try:
            head = read_head(self.raw_requestline, self.rfile)
        except HeadError as exc:
            self._send_body(Body(exc.status, dumps({"error": exc.message})))
            return False
        self.command, self.path, self.request_version = head.method, head.target, head.version
        self.fields = head.headers
        self.close_connection = not head.keep_alive
        if head.headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged (the per-call overhead must stay minimal)."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # -- reading ------------------------------------------------------------------------

    def _read_body(self, headers: dict[str, str]) -> bytes:
        length = headers.get("content-length")
        if length is not None:
            size = int(length)
            if size < 0:
                raise ValueError("negative Content-Length")
            return self.rfile.read(size)
        if headers.get("transfer-encoding", "").lower() != "chunked":
            return b""
        parts = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def _serve(self, method: str) -> None:
        state = self.server.state
        target, _, query_text = self.path.partition("?")
        path = target.rstrip("/") or "/"
        headers = self.fields
        try:
            raw = self._read_body(headers)
        except ValueError:
            self.close_connection = True
            raw = b"\x00"  # an unreadable body is answered as invalid JSON
        route = routes.resolve(method, path, headers)
        body, valid = _parse_json(raw)
        query = dict(parse_qsl(query_text)) if query_text else {}
        answer, fault = self._precheck(route, path, method, headers, valid), None
        if answer is None:
            fault = state.faults.take(route.api, path, body)
        kind = fault.kind if fault is not None else None
        state.log.append(
            RecordedRequest(route.api, method, path, headers, body, time.monotonic(), kind, query)
        )
        if answer is not None:
            self._send_body(answer)
            return
        assert route.endpoint is not None  # _precheck answered unknown paths
        call = WireRequest(route.api, path, query, headers, body, state.next_id, route.params,
                    cache=state.prompt_cache)
        self._answer(route.endpoint, call, fault)

    def _precheck(
        self, route: routes.Destination, path: str, method: str, headers: dict[str, str],
        valid: bool,
    ) -> Body | None:
        if not valid:
            return routes.error(route.api, 400, "The request body is not valid JSON.")
        keys = self.server.state.api_keys
        if keys is not None and routes.credential(route.api, headers) not in keys:
            return routes.unauthorized(route.api)
        if route.endpoint is None:
            code = "unknown_url" if route.api in ("openai", "azure") else None
            return routes.error(route.api, 404, f"Unknown request URL: {method} {path}", code)
        return None

    # -- answering ----------------------------------------------------------------------

    def _answer(self, endpoint: routes.Endpoint, call: WireRequest, fault: Fault | None) -> None:
        kind = fault.kind if fault is not None else None
        if fault is not None and kind in ("drop", "stall", "status", "reject_prefill", "down"):
            self._pre_fault(call.api, fault)
            return
        if fault is not None and (kind == "delay" or (kind == "slow_first_token"
                                                      and not _streams(call.body))):
            self.server.state.stopping.wait(fault.seconds)
        call.filtered = kind == "content_filter"
        try:
            result = endpoint(call)
        except ApiError as exc:
            self._send_body(routes.error(call.api, exc.status, exc.message, exc.code))
            return
        except Exception as exc:  # an emulator bug: answer 500 rather than hang the client
            self._send_body(routes.error(call.api, 500, f"emulator error: {exc!r}"))
            return
        if isinstance(result, Stream):
            self._send_stream(result, fault)
        else:
            self._send_faulty_body(call.api, result, fault)

    def _pre_fault(self, api: str, fault: Fault) -> None:
        if fault.kind in ("status", "reject_prefill", "down"):
            self._send_body(injection.status_body(api, fault))
            return
        if fault.kind == "stall":
            self._stall()
        self._abort()

    def _stall(self, seconds: float = STALL_LIMIT) -> bool:
        """Hold the connection silent for ``seconds`` (at most STALL_LIMIT); False when the
        client left or the emulator is stopping first."""
        stopping = self.server.state.stopping
        deadline = time.monotonic() + min(seconds, STALL_LIMIT)
        while (left := deadline - time.monotonic()) > 0:
            if stopping.wait(min(0.05, left)) or _peer_closed(self.connection):
                return False
        return True

    def _abort(self) -> None:
        """Close the connection abruptly, whatever was (or was not) sent."""
        self.close_connection = True
        _shutdown(self.connection)

    def _head(self, status: int, content_type: str, length: int | None,
              headers: tuple[tuple[str, str], ...] = ()) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, '')}", f"Content-Type: {content_type}"]
        lines.append(f"Content-Length: {length}" if length is not None else _CHUNKED)
        lines.extend(f"{name}: {value}" for name, value in headers)
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send_body(self, body: Body) -> None:
        head = self._head(body.status, body.content_type, len(body.payload), body.headers)
        self.wfile.write(head + body.payload)

    def _send_faulty_body(self, api: str, body: Body, fault: Fault | None) -> None:
        if fault is not None and fault.kind == "truncate":
            length, sent = injection.truncated_body(body)
            self.wfile.write(self._head(body.status, body.content_type, length) + sent)
            self._abort()
            return
        self._send_body(injection.faulty_body(api, body, fault))

    def _send_stream(self, stream: Stream, fault: Fault | None) -> None:
        frames, complete = injection.stream_frames(stream, fault, STALL_LIMIT)
        write = self.wfile.write
        write(self._head(200, stream.content_type, None, (("Cache-Control", "no-cache"),)))
        for frame in frames:
            if isinstance(frame, injection.Pause):
                if not self._stall(frame.seconds):
                    self._abort()
                    return
                continue
            write(b"%x\r\n%s\r\n" % (len(frame), frame))
        if complete:
            write(b"0\r\n\r\n")
        else:
            self._abort()

