"""First-token and stall limits on a provider's stream: the one place they are enforced.

:class:`StreamLimits` says how long a stream may take to its first chunk
(``first_token_timeout``, counted from the moment the request is sent) and how long it may
go silent between two chunks (``stall_timeout``); a provider sets both, a request overrides
them with ``options={"first_token_timeout": s, "stall_timeout": s}`` (InsightForge's own
options: read here and never sent upstream). Passing one ends the stream with
:class:`~insightforge.errors.FirstTokenTimeout` or
:class:`~insightforge.errors.StallTimeout`, which ``Retry`` and ``Fallback`` understand.
Time the consumer spends between two reads is never counted.

* the header wait: sync code gets a read timeout of the first-token limit
  (:meth:`StreamLimits.head`, restored afterwards by :func:`restore_read_timeout`); async
  code an ``asyncio.timeout`` (:func:`within`);
* the chunks after it: :mod:`providers._watch` (a watchdog thread that shuts a stalled
  sync read's socket; one timer per async stream).

What must not live here: any vendor's wire format, the reading itself.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

import attrs

from insightforge.errors import (
    FirstTokenTimeout,
    InsightForgeError,
    InvalidRequest,
    StallTimeout,
    Timeout,
)
from insightforge.types import ChatRequest
from providers._errors import detach

__all__ = ["CALL_LIMITS", "LOCAL_OPTIONS", "StreamLimits", "call_limits", "limits_for",
           "local_options", "restore_read_timeout", "within"]

LOCAL_OPTIONS = frozenset({"first_token_timeout", "stall_timeout"})
"""Request options a provider reads itself and never sends upstream."""

T = TypeVar("T")
_INF = math.inf


def _seconds(value: Any, name: str, owner: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise InvalidRequest(f"{owner}: {name} must be a finite number of seconds > 0 (or "
                             f"None for no limit), got {value!r}")
    return float(value)


@attrs.frozen(slots=True)
class StreamLimits:
    """How long a stream may take to its first chunk, and between two chunks (seconds;
    ``None``: no limit beyond the provider's ``timeout``)."""

    first_token: float | None = None
    stall: float | None = None

    def __bool__(self) -> bool:
        return self.first_token is not None or self.stall is not None

    def head(self, timeout: float) -> float | None:
        """The read timeout for the header wait, when the first-token limit is shorter."""
        if self.first_token is None or self.first_token >= timeout:
            return None
        return self.first_token

    def error(self, kind: str, provider: str, chunks: int) -> Timeout:
        if kind == "first":
            limit = self.first_token or 0.0
            return FirstTokenTimeout(
                f"{provider} sent no first token within {limit:g}s (first_token_timeout); "
                "another route may answer faster, or raise the limit.", provider=provider,
                limit=limit)
        limit = self.stall or 0.0
        return StallTimeout(
            f"{provider} went silent for {limit:g}s after {chunks} chunk(s) "
            "(stall_timeout); the stream can be continued elsewhere, or raise the limit.",
            provider=provider, limit=limit, chunks=chunks)

    def first_token_error(self, error: InsightForgeError, provider: str,
                          head: float | None) -> InsightForgeError:
        """A plain ``Timeout`` of the header wait, when the first-token limit set it."""
        if head is not None and type(error) is Timeout:
            return self.error("first", provider, 0)
        return error


CALL_LIMITS: ContextVar[StreamLimits | None] = ContextVar("insightforge_stream_limits",
                                                          default=None)
"""The limits of the call in progress, set by ``BaseProvider`` around ``_chat``/``_achat``
(the request it hands them has its limit options taken off)."""
_NONE = StreamLimits()


def call_limits() -> StreamLimits:
    """The limits of the call in progress (none outside one)."""
    return CALL_LIMITS.get() or _NONE


def limits_for(owner: str, default: StreamLimits, request: ChatRequest) -> StreamLimits:
    """The limits of one call: the request's options override the provider's."""
    options = request.options
    if not options or not (LOCAL_OPTIONS & options.keys()):
        return default
    first = options.get("first_token_timeout", default.first_token)
    stall = options.get("stall_timeout", default.stall)
    return StreamLimits(_seconds(first, "first_token_timeout", owner),
                        _seconds(stall, "stall_timeout", owner))


def local_options(request: ChatRequest) -> ChatRequest:
    """``request`` without the options only InsightForge reads (never sent upstream)."""
    options: Mapping[str, Any] = request.options
    if not options or not (LOCAL_OPTIONS & options.keys()):
        return request
    kept = {k: v for k, v in options.items() if k not in LOCAL_OPTIONS}
    return attrs.evolve(request, options=kept)


# -- the header wait ------------------------------------------------------------------------
def restore_read_timeout(response: Any, timeout: float) -> None:
    """Give a streamed response its normal read timeout back after a shorter header wait
    (httpx and httpcore share the request's ``timeout`` extension and read it when the body
    is first read)."""
    request = getattr(response, "request", None)
    timeouts = getattr(request, "extensions", {}).get("timeout")
    if isinstance(timeouts, dict):
        timeouts["read"] = timeout


async def within(awaitable: Awaitable[T], limits: StreamLimits, provider: str,
                 started: float) -> T:
    """``await awaitable`` (the header wait), ended by the first-token limit."""
    if limits.first_token is None:
        return await awaitable
    scope = asyncio.timeout(max(0.0, started + limits.first_token - time.monotonic()))
    try:
        async with scope:
            return await awaitable
    except TimeoutError:
        if scope.expired():
            error = limits.error("first", provider, 0)
        else:
            raise
    raise detach(error)
