"""One request's facts, gathered as it goes: for the access log, /metrics and the overhead.

The edge (:mod:`.edge`) makes an :class:`Exchange` per HTTP request and puts it in the ASGI
scope; the endpoints fill in what they learn (caller, model, usage, cost, error); the
edge reads it when the response starts (the overhead header) and when it ends (the access
log line and the metrics). Also :func:`call` — routing and calling the stack, timed —,
:func:`stream_model` and :func:`new_id`, shared by both wire formats. No HTTP rendering here.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import time
import traceback
from typing import Any

import attrs

from insightforge.gateway.auth import Caller
from insightforge.gateway.core import Gateway
from insightforge.gateway.tenancy import tags_for
from insightforge.secrets import scrub
from insightforge.stack import AsyncResponse, Handler, Request
from insightforge.streams import AsyncChatStream
from insightforge.types import ChatResponse, EmbedResponse

__all__ = ["Exchange", "call", "log_unexpected", "new_id", "stream_model"]

log = logging.getLogger("insightforge.gateway")
_ids: list[Any] = [0, "", None]  # [pid, prefix, counter]


def new_id() -> str:
    """A unique id (32 hex digits, like ``uuid4().hex``): a random per-process prefix and a
    counter, so a request costs no ``getrandom`` system calls (two ``uuid4`` per request
    were ~4% of the gateway's CPU under load). Ids name requests and answers; they are not
    secrets."""
    pid = os.getpid()
    if _ids[0] != pid:  # first use, or a forked child: a prefix of its own
        _ids[:] = [pid, secrets.token_hex(8), itertools.count()]
    return f"{_ids[1]}{next(_ids[2]):016x}"


class Exchange:
    """What is known about one request so far (see the module docstring)."""

    __slots__ = ("cached", "cost", "endpoint", "error", "exc", "handler", "key_id", "model",
                 "request", "request_id", "response", "stack_seconds", "status", "stream",
                 "t0", "tenant", "trace_headers", "ttft", "usage")

    def __init__(self, request_id: str, endpoint: str) -> None:
        self.request_id = request_id
        self.endpoint = endpoint
        self.t0 = time.perf_counter()
        self.stack_seconds = 0.0
        self.model: str | None = None
        self.tenant: str | None = None
        self.key_id: str | None = None
        self.status = 0
        self.stream = False
        self.ttft: float | None = None
        self.usage: Any = None
        self.cost: Any = None
        self.cached = False
        self.error: str | None = None
        self.exc: BaseException | None = None
        self.request: Request | None = None  # as the stack got it
        self.handler: Handler | None = None
        self.response: ChatResponse | EmbedResponse | None = None
        self.trace_headers: Any = None  # the ASGI headers, when they carry a trace context

    def caller(self, caller: Caller) -> None:
        self.key_id = caller.key_id
        if caller.tenant is not None:
            self.tenant = caller.tenant

    def answered(self, response: ChatResponse | EmbedResponse) -> None:
        self.response = response
        self.usage, self.cost, self.cached = response.usage, response.cost_usd, response.cached

    def failed(self, exc: BaseException) -> None:
        self.exc = exc
        self.error = type(exc).__name__

    def overhead(self) -> float:
        """Seconds spent so far outside the stack."""
        return max(0.0, time.perf_counter() - self.t0 - self.stack_seconds)


async def call(gateway: Gateway, exchange: Exchange, caller: Caller, request: Request,
               name: Any) -> AsyncResponse:
    """Route ``request`` (asking for ``name``) for ``caller`` and call the stack's async path.

    A stream is primed, so a failure before its first chunk still gets its own status.
    When the request carries a trace context (``traceparent``), the call runs under it, so
    the spans an OpenTelemetry layer or SDK opens continue the caller's trace.
    """
    served, upstream, handler = gateway.route(caller, name)
    exchange.model = served.name
    tags = tags_for(caller, request.tags, exchange.request_id)
    if caller.tenant is None and "tenant" in tags:
        exchange.tenant = tags["tenant"]
    request = attrs.evolve(request, model=upstream, tags=tags)
    exchange.request, exchange.handler = request, handler
    if exchange.trace_headers is not None:
        from middleware.otel.context import remote_parent

        with remote_parent(exchange.trace_headers):
            return await _call(exchange, handler, request)
    return await _call(exchange, handler, request)


async def _call(exchange: Exchange, handler: Handler, request: Request) -> AsyncResponse:
    began = time.perf_counter()
    try:
        result = await handler.acall(request)
        if isinstance(result, AsyncChatStream):
            exchange.stream = True
            try:
                await result.aprime()
            except BaseException:
                await result.aclose()
                raise
            exchange.ttft = time.perf_counter() - exchange.t0
        return result
    finally:
        exchange.stack_seconds += time.perf_counter() - began


def stream_model(stream: AsyncChatStream, default: str) -> str:
    """The model a stream comes from now: after a fallback the alternate's, after a
    mid-stream failover the one producing the rest (``stream.model``)."""
    return stream.model or default


def log_unexpected(exc: BaseException) -> None:
    """A bug (not one of our errors) goes to the log with its traceback, scrubbed."""
    from insightforge.errors import InsightForgeError

    if not isinstance(exc, InsightForgeError):
        log.error("gateway: unexpected error\n%s", scrub("".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__))))
