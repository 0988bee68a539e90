"""Building one audit record from what a request produced. Pure: no I/O, no clock reads.

The drivers (sync and async, in ``middleware.audit``) measure time and catch the outcome;
everything they write is decided here: which fields, their values, the outcome class, what
the trace says about attempts and fallbacks, and that every free text passes the redactor.
Chaining (``prev_hash``/``hash``) is the sink's job (:mod:`middleware.audit.chain`).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from insightforge.errors import BudgetExceeded, ConfigError, RateLimited
from insightforge.types import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    Part,
    Route,
    TextPart,
    ThinkingPart,
    TraceEvent,
)

__all__ = ["ALL_FIELDS", "REQUIRED_FIELDS", "Outcome", "build", "check_fields",
           "count_attempts", "iso_utc", "outcome_of"]

Redact = Callable[[Any], Any]
Outcome = str  # "ok" | "error" | "refused" | "abandoned"

ALL_FIELDS: tuple[str, ...] = (
    "ts", "request_id", "tags", "kind", "provider", "model", "attempts", "fallbacks", "cache",
    "latency_ms", "ttft_ms", "usage", "cost_usd", "outcome", "error_type", "error", "trace",
    "content",
)
REQUIRED_FIELDS = frozenset({"ts", "request_id", "outcome"})
_REFUSALS = (BudgetExceeded, RateLimited)
_RETRY_EVENTS = frozenset({"attempt", "retry"})
_FALLBACK_EVENTS = frozenset({"fallback"})


def check_fields(fields: Iterable[str] | None) -> frozenset[str]:
    """The set of fields to write; a clear ``ValueError`` for an unknown name."""
    if fields is None:
        return frozenset(ALL_FIELDS)
    chosen = set(fields)
    unknown = sorted(chosen - set(ALL_FIELDS))
    if unknown:
        raise ConfigError(f"AuditLog(fields=...): unknown field(s) {unknown}; "
                          f"choose from {list(ALL_FIELDS)}", path="fields")
    return frozenset(chosen | REQUIRED_FIELDS)


def iso_utc(ts: float) -> str:
    """``2026-11-25T08:10:54.123456Z`` for a POSIX timestamp (what
    ``datetime.fromtimestamp(ts, UTC)`` prints: microseconds rounded half to even); the
    text up to the seconds is remembered for the last whole second seen."""
    whole = math.floor(ts)
    micros = round((ts - whole) * 1_000_000)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    global _last_second
    second, text = _last_second
    if second != whole:
        text = _dt.datetime.fromtimestamp(whole, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _last_second = (whole, text)
    return f"{text}.{micros:06d}Z"


_last_second: tuple[int, str] = (-1, "")


def outcome_of(error: BaseException | None, *, abandoned: bool = False) -> Outcome:
    """``ok``, ``refused`` (a local layer said no), ``abandoned`` or ``error``."""
    if abandoned:
        return "abandoned"
    if error is None:
        return "ok"
    if isinstance(error, _REFUSALS):
        return "refused"
    if not isinstance(error, Exception):  # KeyboardInterrupt, CancelledError, GeneratorExit
        return "abandoned"
    return "error"


def count_attempts(trace: Sequence[TraceEvent]) -> tuple[int, int]:
    """``(attempts, fallbacks)`` from the events of the ``retry`` and ``fallback`` layers.

    Every ``retry`` event that announces another try (``attempt``/``retry``) and every
    ``fallback`` event that moves to another route is one more upstream call, and so is the
    clean restart after a refused prefill (``stream.prefill_rejected``); so ``attempts``
    counts upstream tries over all routes (a continued stream's pieces included);
    ``fallbacks`` counts route changes.
    """
    attempts, fallbacks = 1, 0
    for e in trace:
        layer = e.layer
        if layer == "retry":
            attempts += e.event in _RETRY_EVENTS
        elif layer == "fallback" and e.event in _FALLBACK_EVENTS:
            attempts, fallbacks = attempts + 1, fallbacks + 1
        elif layer == "stream" and e.event == "prefill_rejected":
            attempts += 1
    return attempts, fallbacks


class _Facts(NamedTuple):
    """Everything a driver measured about one request (a named tuple: made per record)."""

    request: ChatRequest | EmbedRequest
    response: ChatResponse | EmbedResponse | None
    error: BaseException | None
    abandoned: bool
    request_id: str
    started: float
    latency_ms: float
    ttft_ms: float | None
    routes: tuple[Route, ...]


def _trace(facts: _Facts) -> tuple[TraceEvent, ...]:
    if facts.response is not None:
        return facts.response.trace
    return tuple(getattr(facts.error, "trace", ()) or ())


def _who(facts: _Facts) -> tuple[str | None, str | None]:
    if facts.response is not None:
        return facts.response.provider, facts.response.model
    route = facts.routes[0] if facts.routes else None
    provider = getattr(facts.error, "provider", None) or (route.provider if route else None)
    return provider, facts.request.model or (route.model if route else None)


def _usage(facts: _Facts) -> dict[str, int] | None:
    if facts.response is None:
        return None
    u = facts.response.usage
    out = {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens}
    for name in _USAGE_PARTS:  # what was billed differently, only when there was some
        value = getattr(u, name)
        if value:
            out[name] = value
    if u.estimated:
        out["estimated"] = 1
    return out


_USAGE_PARTS = ("cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens",
                "reasoning_tokens")


def _content(facts: _Facts) -> dict[str, Any]:
    req = facts.request
    if isinstance(req, EmbedRequest):
        return {"inputs": list(req.inputs)}
    out: dict[str, Any] = {"messages": [_message(m) for m in req.messages]}
    if isinstance(facts.response, ChatResponse):
        out["completion"] = _message(facts.response.message)
    return out


def _message(m: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": m.role, "content": _logged_content(m.content)}
    if m.tool_calls:
        msg["tool_calls"] = [{"name": c.name, "arguments": c.arguments} for c in m.tool_calls]
    return msg


def _logged_content(content: str | tuple[Part, ...]) -> str | list[dict[str, str]]:
    """A message's content as the log keeps it: text as text, a media part as its
    description (kind, type, size and SHA-256 — never the bytes), thinking as its text."""
    if isinstance(content, str):
        return content
    out: list[dict[str, str]] = []
    for part in content:
        if isinstance(part, (TextPart, ThinkingPart)):
            out.append({"type": part.kind, "text": part.text})
        else:
            out.append({"type": part.kind, "describe": part.describe()})
    return out


def build(*, request: ChatRequest | EmbedRequest,
          response: ChatResponse | EmbedResponse | None = None,
          error: BaseException | None = None, abandoned: bool = False,
          request_id: str, started: float, latency_ms: float, ttft_ms: float | None = None,
          routes: tuple[Route, ...] = (), redact: Redact | None = None,
          log_content: bool = False, fields: frozenset[str] | None = None) -> dict[str, Any]:
    """The record for one finished request (without ``prev_hash``/``hash``)."""
    facts = _Facts(request, response, error, abandoned, request_id, started, latency_ms,
                   ttft_ms, routes)
    clean: Redact = redact if redact is not None else (lambda v: v)
    trace = _trace(facts)
    attempts, fallbacks = count_attempts(trace)
    provider, model = _who(facts)
    cost = getattr(response, "cost_usd", None)
    record: dict[str, Any] = {
        "ts": iso_utc(started),
        "request_id": request_id,
        "tags": clean(dict(request.tags)) if request.tags else {},
        "kind": "embed" if isinstance(request, EmbedRequest) else "chat",
        "provider": provider,
        "model": model,
        "attempts": attempts,
        "fallbacks": fallbacks,
        "cache": bool(response is not None and response.cached),
        "latency_ms": round(latency_ms, 3),
        "ttft_ms": None if ttft_ms is None else round(ttft_ms, 3),
        "usage": _usage(facts),
        "cost_usd": None if cost is None else f"{cost:f}",
        "outcome": outcome_of(error, abandoned=abandoned),
        "error_type": None if error is None else type(error).__name__,
        "error": None if error is None else clean(str(error) or type(error).__name__),
        "trace": _lines(clean, [str(e) for e in trace]),
    }
    if log_content:
        record["content"] = clean(_content(facts))
    return _select(record, fields)


def _lines(clean: Redact, lines: list[str]) -> list[Any]:
    """Trace lines redacted, together when the redactor can (``many``), else one by one."""
    together = getattr(clean, "many", None)
    return together(lines) if callable(together) and len(lines) > 1 else \
        [clean(line) for line in lines]


def _select(record: dict[str, Any], fields: Mapping[str, Any] | frozenset[str] | None,
            ) -> dict[str, Any]:
    if fields is None or len(fields) == len(ALL_FIELDS):  # every field (the default)
        return record
    return {k: v for k, v in record.items() if k in fields}
