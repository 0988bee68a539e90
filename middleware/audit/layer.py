"""``AuditLog``: the configuration, validated once, and its flow — call, then record.

The layer sits outermost, so it sees every request — cache hits, budget and rate-limit
refusals, failures, and streams that finish, fail or are abandoned — and writes exactly one
record when the request ends. On the request path it only measures time and hands the facts
over; the record is built (redacted) and chained by the writer (:mod:`.writer`) for a file
sink, or inline for a logger sink. Records pass through a local structlog processor chain
(never the global structlog configuration) into the sink.

When records cannot be written, ``on_write_error`` decides: ``"fail"`` (default) refuses
requests with :class:`~insightforge.errors.AuditUnavailable` — before any network call —
until the sink writes again (with ``fsync="always"`` the request whose record failed fails
too); ``"serve"`` keeps serving, and the next record written carries the ``gap``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from typing import Any

import attrs
import structlog

from insightforge.errors import AuditUnavailable, ConfigError
from insightforge.kit import Abandoned, Call, Flow, FlowHandler, FlowLayer
from insightforge.redact import Redactor
from insightforge.stack import Handler, Request
from insightforge.types import ChatResponse, EmbedResponse, Route
from middleware.audit import record as _record
from middleware.audit.sinks import Sink, as_sink
from middleware.audit.writer import Durable, Writer

__all__ = ["AuditLog"]

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


def _on_write_error(_: object, __: object, value: str) -> None:
    if value not in ("fail", "serve"):
        raise ConfigError(f"on_write_error must be 'fail' (refuse requests while records "
                          f"cannot be written) or 'serve' (serve and count the gap), got "
                          f"{value!r}", path="on_write_error")


class _RandomIds:
    """Random (version 4) UUIDs as text — ``str(uuid.uuid4())`` without the object — cut
    from ``os.urandom`` read 4 KiB at a time: one system call per 256 records instead of one
    each (a few µs apiece on a virtual machine, in the writer thread that shares the GIL).
    A forked child starts from a fresh read, so it never repeats its parent's ids."""

    POOL = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0

    def forget(self) -> None:
        """Drop the unread bytes (after a fork: the parent holds the same ones), and the
        lock, which another of the parent's threads may have held at the fork."""
        self._lock = threading.Lock()
        self._pool, self._at = b"", 0

    def __call__(self) -> str:
        with self._lock:
            at = self._at
            if at + 16 > len(self._pool):
                self._pool, at = os.urandom(self.POOL), 0
            self._at = at + 16
            raw = bytearray(self._pool[at:at + 16])
        raw[6] = raw[6] & 0x0F | 0x40  # version 4
        raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_uuid4 = _RandomIds()
os.register_at_fork(after_in_child=_uuid4.forget)


class _Memo:
    """The redactor, remembered for short strings: trace messages and tags repeat, so each
    distinct one is redacted once, not once per record."""

    __slots__ = ("_redact", "_seen")

    def __init__(self, redact: Redact) -> None:
        self._redact = redact
        self._seen: dict[str, Any] = {}

    def __call__(self, value: Any) -> Any:
        if type(value) is not str or len(value) > 512:
            return self._redact(value)
        found = self._seen.get(value)
        if found is None:
            if len(self._seen) >= 4096:
                self._seen.clear()
            found = self._seen[value] = self._redact(value)
        return found

    def many(self, values: list[str]) -> list[Any]:
        """Each of ``values`` redacted; the ones not seen before in one pass (see
        :meth:`Redactor.texts`) when the redactor can."""
        seen = self._seen
        out = [seen.get(v) for v in values]
        todo = [i for i, found in enumerate(out) if found is None]
        if not todo:
            return out
        batch = getattr(self._redact, "texts", None)
        fresh = [values[i] for i in todo]
        done = batch(fresh) if callable(batch) else [self._redact(v) for v in fresh]
        if len(seen) + len(todo) > 4096:
            seen.clear()
        for i, value, clean in zip(todo, fresh, done, strict=True):
            out[i] = clean
            if len(value) <= 512:
                seen[value] = clean
        return out


class _Facts:
    """What the request path measured; the record is built from it later."""

    __slots__ = ("abandoned", "error", "inner", "latency_ms", "request", "response", "started",
                 "ttft_ms")

    def __init__(self, request: Request, inner: Handler, started: float, latency_ms: float,
                 ttft_ms: float | None, response: ChatResponse | EmbedResponse | None = None,
                 error: BaseException | None = None, abandoned: bool = False) -> None:
        self.request, self.inner, self.started = request, inner, started
        self.latency_ms, self.ttft_ms = latency_ms, ttft_ms
        self.response, self.error, self.abandoned = response, error, abandoned


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


class _Inline:
    """For a sink that does not block (a logger): build and write on the request path."""

    def __init__(self, layer: AuditLog) -> None:
        self.layer = layer
        self.failing: str | None = None
        self._logger = structlog.BoundLogger(
            _SinkWriter(layer.sink), processors=[*layer.processors, _finalize], context={})

    def submit(self, facts: _Facts, durable: bool = False) -> Durable | None:
        try:
            self._logger.info("audit", **self.layer.build(facts))
        except Exception as exc:
            self.failing = f"{type(exc).__name__}: {exc}"
            if self.layer.on_write_error == "fail":
                raise AuditUnavailable(repr(self.layer.sink), self.failing) from exc
            _log.warning("audit record could not be written: %s", self.failing)
        else:
            self.failing = None
        return None

    def flush(self, timeout: float | None = None) -> bool:
        return True


@attrs.frozen(repr=False)
class AuditLog(FlowLayer):
    """The audit layer: ``stack(AuditLog("audit.jsonl"), ...)``; put it outermost.

    Attributes:
        sink: a file path (a :class:`~.sinks.FileSink` with ``fsync="interval"``), a sink
            object, or a stdlib/structlog logger.
        redact: a :class:`Redactor` (default), any function ``value -> value``, or
            ``False`` to write text as it is (live ``Secret`` values are then still kept
            out only by the providers' own scrubbing).
        log_content: also write the messages and the completion (always redacted).
        fields: write only these fields (``ts``, ``request_id``, ``outcome`` always).
        on_write_error: ``"fail"`` or ``"serve"`` (see the module docstring).
        clock: wall clock for ``ts``; timer: monotonic clock for latencies.
        processors: extra structlog processors run on each record before the sink.
        strict: the old switch (``True``: ``on_write_error="fail"``; ``False``: ``"serve"``).
    """

    sink: Sink = attrs.field(converter=as_sink)
    redact: Redact | None = attrs.field(default=Redactor(), converter=_as_redactor)
    log_content: bool = attrs.field(default=False, kw_only=True)
    fields: frozenset[str] = attrs.field(default=None, converter=_as_fields, kw_only=True)
    on_write_error: str = attrs.field(default="fail", kw_only=True,
                                      validator=_on_write_error)
    clock: Callable[[], float] = attrs.field(default=time.time, kw_only=True)
    timer: Callable[[], float] = attrs.field(default=time.perf_counter, kw_only=True)
    processors: Sequence[Any] = attrs.field(default=(), converter=tuple, kw_only=True,
                                            metadata={"config": False})
    strict: bool | None = attrs.field(default=None, kw_only=True, eq=False, repr=False)
    _out: Any = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.strict is not None:
            object.__setattr__(self, "on_write_error", "fail" if self.strict else "serve")
        if self.redact is not None:
            object.__setattr__(self, "redact", _Memo(self.redact))
        blocking = getattr(self.sink, "blocking", True)
        out = Writer(self.sink, self._build_sealable, label=repr(self.sink)) if blocking \
            else _Inline(self)
        object.__setattr__(self, "_out", out)

    def __repr__(self) -> str:
        content = ", log_content=True" if self.log_content else ""
        return f"AuditLog({self.sink!r}{content})"

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every record so far is written (``False`` if ``timeout`` passed)."""
        return bool(self._out.flush(timeout))

    def status(self) -> dict[str, Any]:
        """``failing`` (why records cannot be written, or ``None``), ``pending`` (records
        kept to write when the sink works again) and ``dropped`` (lost beyond the cap)."""
        return dict(getattr(self._out, "status", lambda: {"failing": self._out.failing,
                                                           "pending": 0, "dropped": 0})())

    def close(self) -> None:
        """Write what is pending, then flush and close the sink."""
        self._out.flush()
        self.sink.close()

    # -- the record ------------------------------------------------------------------------
    def build(self, facts: _Facts) -> dict[str, Any]:
        """The record of one finished request (without ``prev_hash``/``hash``)."""
        routes: tuple[Route, ...] = ()
        if facts.response is None:
            try:
                routes = facts.inner.routes()
            except Exception:
                routes = ()
        return _record.build(
            request=facts.request, response=facts.response, error=facts.error,
            abandoned=facts.abandoned, request_id=_uuid4(), started=facts.started,
            latency_ms=facts.latency_ms, ttft_ms=facts.ttft_ms, routes=routes,
            redact=self.redact, log_content=self.log_content, fields=self.fields)

    def _build_sealable(self, facts: _Facts) -> dict[str, Any] | None:
        """The record as the sink gets it: built, then through the local processor chain
        (``None`` when a processor drops it)."""
        if not self.processors:
            return self.build(facts)
        record: Any = {"event": "audit", **self.build(facts)}
        try:
            for processor in self.processors:
                record = processor(None, "info", record)
        except structlog.DropEvent:
            return None
        out: dict[str, Any] = dict(record)
        out.pop("event", None)
        return out

    # -- the flow --------------------------------------------------------------------------
    def flow(self, request: Request, handler: FlowHandler) -> Flow:
        out = self._out
        if out.failing is not None and self.on_write_error == "fail":
            raise AuditUnavailable(repr(self.sink), out.failing)
        started, t0 = self.clock(), self.timer()
        call = Call(request, timer=self.timer)
        try:
            response = yield call
        except Abandoned:
            yield from self._write(self._facts(request, handler, call, started, t0,
                                               abandoned=True))
            raise
        except BaseException as error:
            yield from self._write(self._facts(request, handler, call, started, t0,
                                               error=error))
            raise
        yield from self._write(self._facts(request, handler, call, started, t0,
                                           response=response))
        return response

    def _facts(self, request: Request, handler: FlowHandler, call: Call, started: float,
               t0: float, **outcome: Any) -> _Facts:
        ttft = None
        if request.stream and call.first_chunk_at is not None:
            ttft = (call.first_chunk_at - t0) * 1000
        return _Facts(request, handler.inner, started, (self.timer() - t0) * 1000, ttft,
                      **outcome)

    def _write(self, facts: _Facts) -> Flow:
        durable = getattr(self.sink, "fsync", None) == "always"
        wait = self._out.submit(facts, durable)
        if wait is None:
            return
        try:
            yield wait
        except AuditUnavailable:
            if self.on_write_error == "fail":
                raise
            _log.warning("audit record could not be written (kept, retried): %s",
                         self._out.failing)
