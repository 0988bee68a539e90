"""The loop of a layer that tries again — ``Retry`` (the same handler, after a wait) and
``Fallback`` (the next handler) — once, sync and async: :func:`repeat` and :func:`arepeat`.

A layer that tries again calls the inner handler several times, which a flow does not, so
it keeps tower's shape: its decisions in a pure policy, and a small per-call object (an
:class:`Attempts`) that this loop drives. A stream is primed inside the loop — its first
chunk pulled — so a failure before the first chunk is tried again. A failure after chunks
reached the caller is continued (:mod:`insightforge.kit.resume`) when the layer resumes
streams (``resume=True``, the default): the same decision picks the route, and the caller
sees one seamless stream or :class:`~insightforge.errors.StreamInterrupted`.

Each call a ``Fallback`` makes while it still has another route is made inside
:func:`insightforge.kit.alternates.offering`, so a ``Retry`` below lets a silent route go.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from insightforge.kit import progress
from insightforge.kit.alternates import offering
from insightforge.kit.resume import aresume, resume
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import ChatRequest, TraceEvent

__all__ = ["Attempts", "arepeat", "repeat"]


class Attempts(Protocol):
    """One call's state in a layer that tries again.

    Attributes:
        target: the handler to ask next.
        sleep, asleep: how to wait (injectable, so tests run on a fake clock).
        events: the trace events so far (a stream's continuation adds to them); the last
            describes the latest failure (what the :mod:`~insightforge.kit.progress`
            listener is told while the call waits).
        label: the layer's name in trace events (``retry``, ``fallback``).
        resume: continue a stream that fails after chunks reached the caller.
        offers_alternate: a route other than ``target`` is still left to try.
    """

    events: list[TraceEvent]
    label: str
    resume: bool

    @property
    def target(self) -> Any: ...

    @property
    def offers_alternate(self) -> bool: ...

    @property
    def sleep(self) -> Callable[[float], None]: ...

    @property
    def asleep(self) -> Callable[[float], Awaitable[None]]: ...

    def acts_on(self, error: BaseException) -> bool:
        """Whether this kind of error is one the layer tries again on at all."""
        ...

    def failed(self, error: Exception) -> float:
        """Record a failure; the seconds to wait before the next try — or raise to give up."""
        ...

    def finish(self, result: Any) -> Any:
        """The answer to return (with this layer's trace events on it)."""
        ...


def repeat(run: Attempts, request: Any) -> Any:
    """Ask ``run.target`` until it answers or ``run.failed`` gives up (sync)."""
    while True:
        try:
            with offering(run.offers_alternate):
                result = run.target(request)
                if isinstance(result, ChatStream):
                    result.prime()
        except Exception as error:
            delay = run.failed(error)
            if progress.active() and run.events:
                progress.report(run.events[-1], delay)
            if delay:
                run.sleep(delay)
            continue
        if isinstance(result, ChatStream) and run.resume and isinstance(request, ChatRequest):
            return resume(run, request, result)
        return run.finish(result)


async def arepeat(run: Attempts, request: Any) -> Any:
    """The async twin of :func:`repeat`."""
    while True:
        try:
            with offering(run.offers_alternate):
                result = await run.target.acall(request)
                if isinstance(result, AsyncChatStream):
                    await result.aprime()
        except Exception as error:
            delay = run.failed(error)
            if progress.active() and run.events:
                progress.report(run.events[-1], delay)
            if delay:
                await run.asleep(delay)
            continue
        if (isinstance(result, AsyncChatStream) and run.resume
                and isinstance(request, ChatRequest)):
            return aresume(run, request, result)
        return run.finish(result)
