"""Helpers shared by the Retry / Fallback / RateLimit tests: fault scripts and a probe layer.

``Probe`` sits under a layer and counts how each stream attempt ended (end, error, close),
so tests can prove a failed attempt is finished exactly once (never billed or logged twice).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from insightforge.errors import (
    AuthenticationError,
    ContentFiltered,
    ContextLengthExceeded,
    InvalidRequest,
    MalformedResponse,
    ProviderUnavailable,
    RateLimitError,
    Timeout,
)
from insightforge.stack import Handler, Middleware, Request
from insightforge.streams import AsyncChatStream, ChatStream


def make_error(kind: str, provider: str = "scripted",
               retry_after: float | None = None) -> Exception:
    """A fresh error of ``kind`` (errors carry trace, so never share one between runs)."""
    if kind == "429":
        return RateLimitError("rate limited", provider=provider, status=429,
                              retry_after=retry_after)
    if kind == "503":
        return ProviderUnavailable("unavailable", provider=provider, status=503,
                                   retry_after=retry_after)
    if kind == "timeout":
        return Timeout("timed out", provider=provider)
    if kind == "malformed":
        return MalformedResponse("garbage", provider=provider)
    if kind == "401":
        return AuthenticationError("bad key", provider=provider, status=401)
    if kind == "context":
        return ContextLengthExceeded("too long", provider=provider, status=400)
    if kind == "filtered":
        return ContentFiltered("filtered", provider=provider, status=400)
    if kind == "invalid":
        return InvalidRequest("bad request")
    raise ValueError(kind)


RETRYABLE = ("429", "503", "timeout", "malformed")
FINAL = ("401", "context", "filtered", "invalid")

#: One step of a fault script: ("ok", None) or (error kind, retry_after or None).
steps = st.one_of(
    st.just(("ok", None)),
    st.tuples(st.sampled_from(RETRYABLE + FINAL),
              st.one_of(st.none(), st.floats(0, 5, allow_nan=False))),
)
scripts = st.lists(steps, min_size=0, max_size=8)


def materialise(script: list[tuple[str, float | None]], provider: str = "scripted") -> list[Any]:
    """ScriptedProvider steps from a generated script (fresh error objects)."""
    return [f"answer {i}" if kind == "ok" else make_error(kind, provider, ra)
            for i, (kind, ra) in enumerate(script)]


class ProbeLayer:
    """A layer recording how every stream below it ended."""

    def __init__(self) -> None:
        self.ends: list[str] = []

    def __call__(self, inner: Handler) -> Middleware:
        return _Probe(self, inner)


class _Probe(Middleware):
    layer: ProbeLayer

    def __call__(self, request: Request, /) -> Any:
        result = self.inner(request)
        if isinstance(result, ChatStream):
            return result.wrap(on_end=lambda r: self.layer.ends.append("end"),
                               on_error=lambda e: self.layer.ends.append("error"),
                               on_close=lambda: self.layer.ends.append("close"))
        return result

    async def acall(self, request: Request, /) -> Any:
        result = await self.inner.acall(request)
        if isinstance(result, AsyncChatStream):
            return result.wrap(on_end=lambda r: self.layer.ends.append("end"),
                               on_error=lambda e: self.layer.ends.append("error"),
                               on_close=lambda: self.layer.ends.append("close"))
        return result


def trace_facts(trace: Any) -> list[tuple[str, str, str, dict[str, Any]]]:
    """A trace without timestamps, for comparing runs."""
    return [(e.layer, e.event, e.detail, dict(e.data)) for e in trace]
