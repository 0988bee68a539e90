"""The edge of the application: request ids, framing checks, trace context, the overhead
header, the access log and the metrics — one pure ASGI middleware (Starlette's shape:
``Edge(app, ...)``).

Per HTTP request: take ``X-Request-Id`` (when it is a short token) or make one; refuse a
``GET``/``HEAD`` that carries a body and a ``Content-Length`` over the limit (both with
``Connection: close``: the rest of the connection cannot be trusted); make the
:class:`~.exchange.Exchange` the endpoints fill in; add ``X-Request-Id`` and
``X-InsightForge-Overhead-Ms`` (milliseconds spent outside the stack before the response
started) to the response; note whether the headers carry a trace context
(:mod:`.tracing`); when it ends, write one structured access-log line (never a key) and
record the metrics (:mod:`.metrics`). What must not live here: routing, the wire formats.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from insightforge.gateway.core import Gateway
from insightforge.gateway.exchange import Exchange, new_id
from insightforge.gateway.tracing import trace_fields
from insightforge.secrets import scrub

__all__ = ["ENDPOINTS", "Edge"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

access = logging.getLogger("insightforge.gateway.access")
log = logging.getLogger("insightforge.gateway")
ENDPOINTS = frozenset({"/v1/chat/completions", "/v1/embeddings", "/v1/messages"})
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


def _refuse(status: int, message: str, path: str) -> tuple[Message, Message]:
    if path == "/v1/messages":
        kind = "request_too_large" if status == 413 else "invalid_request_error"
        body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        body = {"error": {"message": message, "type": "invalid_request_error", "param": None,
                          "code": "body_too_large" if status == 413 else "bad_framing"}}
    data = json.dumps(body).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                         (b"content-length", str(len(data)).encode())]}
    return start, {"type": "http.response.body", "body": data}


class Edge:
    """See the module docstring. ``access_log``: write the access log lines."""

    def __init__(self, app: App, *, gateway: Gateway, access_log: bool = True) -> None:
        self.app = app
        self.gateway = gateway
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        rid: bytes | None = None
        length: bytes | None = None
        chunked = traced = False
        tracing = trace_fields()
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = value if _REQUEST_ID.match(value) else None
            elif name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name in tracing:
                traced = True
        request_id = rid.decode() if rid else new_id()
        exchange = Exchange(request_id, path if path in ENDPOINTS else "other")
        if traced:
            exchange.trace_headers = scope["headers"]
        problem = None
        if method in _BODILESS and (chunked or (length is not None and length != b"0")):
            problem = (400, f"a {method} request must not carry a body")
        elif length is not None and (not length.isdigit()
                                     or int(length) > self.gateway.settings.max_body_bytes):
            problem = (413, f"request body larger than {self.gateway.settings.max_body_bytes} "
                       "bytes; send less")
        if problem is not None:
            exchange.error = f"http_{problem[0]}"
            start, body = _refuse(*problem, path)
            start["headers"].append((b"x-request-id", request_id.encode()))
            exchange.status = problem[0]
            await send(start)
            await send(body)
            self._finish(exchange, method, path)
            return
        scope["insightforge.exchange"] = exchange

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                overhead = f"{exchange.overhead() * 1000:.3f}".encode()
                message["headers"] = [*message.get("headers", ()),
                                      (b"x-request-id", request_id.encode()),
                                      (b"x-insightforge-overhead-ms", overhead)]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self._finish(exchange, method, path)

    def _finish(self, exchange: Exchange, method: str, path: str) -> None:
        seconds = time.perf_counter() - exchange.t0
        if exchange.endpoint != "other":
            try:
                self.gateway.metrics.get().record(exchange, seconds)
            except Exception:  # metrics never fail a request, nor hide its access-log line
                log.exception("gateway: recording the metrics failed")
        if self.access_log and access.isEnabledFor(logging.INFO):
            usage = exchange.usage
            line = {"ts": round(time.time(), 3), "request_id": exchange.request_id,
                    "method": method, "path": scrub(path[:200]), "status": exchange.status,
                    "model": exchange.model, "tenant": exchange.tenant,
                    "key_id": exchange.key_id, "stream": exchange.stream,
                    "cached": exchange.cached,
                    "cost_usd": None if exchange.cost is None else str(exchange.cost),
                    "input_tokens": getattr(usage, "input_tokens", None),
                    "output_tokens": getattr(usage, "output_tokens", None),
                    "latency_ms": round(seconds * 1000, 3),
                    "ttft_ms": None if exchange.ttft is None else round(exchange.ttft * 1000, 3),
                    "error": exchange.error}
            access.info(json.dumps(line, separators=(",", ":")))
