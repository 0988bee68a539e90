"""The loop of a layer that tries again — ``Retry`` (the same handler, after a wait) and
``Fallback`` (the next handler) — once, sync and async: :func:`repeat` and :func:`arepeat`.

A layer that tries again calls the inner handler several times, which a flow does not, so
it keeps tower's shape: its decisions in a pure policy, and a small per-call object (an
:class:`Attempts`) that this loop drives. A stream is primed inside the loop — its first
chunk pulled — so a failure before the first chunk is tried again; once a chunk has reached
the caller, nothing is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from insightforge.kit import progress
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import TraceEvent

__all__ = ["Attempts", "arepeat", "repeat"]


class Attempts(Protocol):
    """One call's state in a layer that tries again.

    Attributes:
        target: the handler to ask next.
        sleep, asleep: how to wait (injectable, so tests run on a fake clock).
        events: the trace events so far; the last describes the latest failure (what the
            :mod:`~insightforge.kit.progress` listener is told while the call waits).
    """

    @property
    def target(self) -> Any: ...

    @property
    def sleep(self) -> Callable[[float], None]: ...

    @property
    def asleep(self) -> Callable[[float], Awaitable[None]]: ...

    @property
    def events(self) -> Sequence[TraceEvent]: ...

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
        return run.finish(result)


async def arepeat(run: Attempts, request: Any) -> Any:
    """The async twin of :func:`repeat`."""
    while True:
        try:
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
        return run.finish(result)
