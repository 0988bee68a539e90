"""``AuditLog``: one tamper-evident, redacted JSON-lines record per request.

The layer sits outermost, so it sees every request — cache hits, budget and rate-limit
refusals, failures, and streams that finish, fail or are abandoned — and writes exactly one
record when the request ends. The parts:

* :mod:`middleware.audit.record` — what a record says (pure);
* :mod:`middleware.audit.chain` — canonical JSON, hash chain, verification (pure);
* :mod:`middleware.audit.sinks` — file (locked, fsync policy, rotation) and logger sinks;
* this module — the layer (configuration) and its thin sync/async drivers, which measure
  time and hand the facts to ``record.build``. Records pass through a local structlog
  processor chain (never the global structlog configuration) into the sink.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from typing import Any

import attrs
import structlog

from insightforge.redact import Redactor
from insightforge.stack import AsyncResponse, Handler, Middleware, Request, Response
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import ChatResponse, Chunk, EmbedResponse, Route
from middleware.audit import record as _record
from middleware.audit.chain import verify
from middleware.audit.sinks import FileSink, LoggerSink, Sink, as_sink

__all__ = ["AuditLog", "FileSink", "LoggerSink", "Redactor", "Sink", "verify"]

_log = logging.getLogger("insightforge.audit")
Redact = Callable[[Any], Any]


def _as_redactor(value: Redact | bool | None) -> Redact | None:
    if value is True:
        return Redactor()
    if value is False or value is None:
        return None
    if callable(value):
        return value
    raise TypeError(f"redact must be a Redactor, a function, True or False; got {value!r}")


def _as_fields(value: Iterable[str] | None) -> frozenset[str]:
    return _record.check_fields(value)


@attrs.frozen(repr=False)
class AuditLog:
    """The audit layer: ``stack(AuditLog("audit.jsonl"), ...)``; put it outermost.

    Attributes:
        sink: a file path (a :class:`FileSink` with ``fsync="interval"``), a sink object,
            or a stdlib/structlog logger.
        redact: a :class:`Redactor` (default), any function ``value -> value``, or
            ``False`` to write text as it is (live ``Secret`` values are then still kept
            out only by the providers' own scrubbing).
        log_content: also write the messages and the completion (always redacted).
        fields: write only these fields (``ts``, ``request_id``, ``outcome`` always).
        clock: wall clock for ``ts``; timer: monotonic clock for latencies.
        processors: extra structlog processors run on each record before the sink.
        strict: raise when a record cannot be written (default: log a warning and go on).
    """

    sink: Sink = attrs.field(converter=as_sink)
    redact: Redact | None = attrs.field(default=Redactor(), converter=_as_redactor)
    log_content: bool = attrs.field(default=False, kw_only=True)
    fields: frozenset[str] = attrs.field(default=None, converter=_as_fields, kw_only=True)
    clock: Callable[[], float] = attrs.field(default=time.time, kw_only=True)
    timer: Callable[[], float] = attrs.field(default=time.perf_counter, kw_only=True)
    processors: Sequence[Any] = attrs.field(default=(), converter=tuple, kw_only=True)
    strict: bool = attrs.field(default=False, kw_only=True)

    def __call__(self, inner: Handler) -> Handler:
        return _AuditHandler(self, inner)

    def close(self) -> None:
        """Flush and close the sink."""
        self.sink.close()

    def __repr__(self) -> str:
        content = ", log_content=True" if self.log_content else ""
        return f"AuditLog({self.sink!r}{content})"


class _SinkWriter:
    """The structlog "logger" at the end of the local processor chain: writes to the sink."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def msg(self, record: dict[str, Any]) -> dict[str, Any]:
        return self.sink.write(record)

    info = msg


def _finalize(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> tuple[Any, ...]:
    """Last processor: hand the record dict itself to :class:`_SinkWriter`."""
    event_dict.pop("event", None)
    return (dict(event_dict),), {}


class _Pending:
    """One request in flight: its id, start times, first-chunk time; ends exactly once."""

    __slots__ = ("__weakref__", "_done", "_lock", "first", "request", "request_id",
                 "started", "t0")

    def __init__(self, request: Request, started: float, t0: float) -> None:
        self.request = request
        self.request_id = str(uuid.uuid4())
        self.started = started
        self.t0 = t0
        self.first: float | None = None
        self._done = False
        self._lock = threading.Lock()

    def claim(self) -> bool:
        """True for the first caller only: the one that writes the record."""
        with self._lock:
            if self._done:
                return False
            self._done = True
            return True


class _AuditHandler(Middleware):
    """The sync and async drivers around :func:`middleware.audit.record.build`."""

    __slots__ = ("_logger",)
    layer: AuditLog

    def __init__(self, layer: AuditLog, inner: Handler) -> None:
        super().__init__(layer, inner)
        self._logger = structlog.BoundLogger(
            _SinkWriter(layer.sink), processors=[*layer.processors, _finalize], context={})

    # -- shared policy ----------------------------------------------------------------
    def _start(self, request: Request) -> _Pending:
        return _Pending(request, self.layer.clock(), self.layer.timer())

    def _chunk(self, pending: _Pending) -> Callable[[Chunk], None]:
        def on_chunk(_: Chunk) -> None:
            if pending.first is None:
                pending.first = self.layer.timer()
        return on_chunk

    def _build(self, pending: _Pending, *, response: ChatResponse | EmbedResponse | None = None,
               error: BaseException | None = None, abandoned: bool = False) -> dict[str, Any]:
        now = self.layer.timer()
        ttft = None
        if pending.request.stream:
            ttft = None if pending.first is None else (pending.first - pending.t0) * 1000
        return _record.build(
            request=pending.request, response=response, error=error, abandoned=abandoned,
            request_id=pending.request_id, started=pending.started,
            latency_ms=(now - pending.t0) * 1000, ttft_ms=ttft,
            routes=self._routes() if response is None else (), redact=self.layer.redact,
            log_content=self.layer.log_content, fields=self.layer.fields)

    def _routes(self) -> tuple[Route, ...]:
        try:
            return self.inner.routes()
        except Exception:
            return ()

    def _emit(self, record: dict[str, Any]) -> None:
        try:
            self._logger.info("audit", **record)
        except Exception as exc:
            if self.layer.strict:
                raise
            _log.warning("audit record %s could not be written: %s: %s",
                         record.get("request_id"), type(exc).__name__, exc)

    def _finish(self, pending: _Pending, **facts: Any) -> None:
        if pending.claim():
            self._emit(self._build(pending, **facts))

    async def _afinish(self, pending: _Pending, **facts: Any) -> None:
        if not pending.claim():
            return
        record = self._build(pending, **facts)
        error = facts.get("error")
        if self.layer.sink.blocking and (error is None or isinstance(error, Exception)):
            await asyncio.to_thread(self._emit, record)
        else:
            self._emit(record)

    # -- sync driver --------------------------------------------------------------------
    def __call__(self, request: Request, /) -> Response:
        pending = self._start(request)
        try:
            result = self.inner(request)
        except BaseException as exc:
            self._finish(pending, error=exc)
            raise
        if isinstance(result, ChatStream):
            return result.wrap(
                on_chunk=self._chunk(pending),
                on_end=lambda r: self._finish(pending, response=r),
                on_error=lambda e: self._finish(pending, error=e),
                on_close=lambda: self._finish(pending, abandoned=True))
        self._finish(pending, response=result)
        return result

    # -- async driver -------------------------------------------------------------------
    async def acall(self, request: Request, /) -> AsyncResponse:
        pending = self._start(request)
        try:
            result = await self.inner.acall(request)
        except BaseException as exc:
            await self._afinish(pending, error=exc)
            raise
        if isinstance(result, AsyncChatStream):
            async def on_end(r: ChatResponse) -> None:
                await self._afinish(pending, response=r)

            async def on_error(e: BaseException) -> None:
                await self._afinish(pending, error=e)

            async def on_close() -> None:
                await self._afinish(pending, abandoned=True)

            wrapped = result.wrap(on_chunk=self._chunk(pending), on_end=on_end,
                                  on_error=on_error, on_close=on_close)
            # An async stream dropped without aclose() has no __del__: log it when collected.
            weakref.finalize(wrapped, self._finish, pending, abandoned=True)
            return wrapped
        await self._afinish(pending, response=result)
        return result
