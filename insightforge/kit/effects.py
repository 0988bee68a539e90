"""What a flow yields: effects. Each says *what* to do; a driver decides *how* (sync or async).

A flow (see :mod:`insightforge.kit`) is a generator that yields effects and receives their
results. There is one special effect, :class:`Call` — ask the inner handler — and any number
of ordinary ones: objects with ``run()`` (the sync driver calls it) and ``arun()`` (the async
driver awaits it). :class:`Blocking` wraps a store call, :class:`Sleep` a wait; a layer may
define its own (single flight's wait does). No I/O happens in this module.

Two things are thrown *into* a flow instead of being sent: the failure of the inner call (at
its ``Call``), and :class:`Abandoned` when the consumer closed a stream before its end.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from collections.abc import Awaitable, Callable, Generator
from concurrent.futures import Executor
from typing import Any, Protocol, runtime_checkable

from insightforge.kit import progress
from insightforge.kit.lane import Lane
from insightforge.types import (
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbedRequest,
    ToolCallDelta,
    TraceEvent,
)

__all__ = ["Abandoned", "Blocking", "Call", "Effect", "Replay", "Sleep", "executor_of",
           "one_chunk", "store_call"]


@runtime_checkable
class Effect(Protocol):
    """An ordinary effect: the sync driver calls ``run()``, the async driver awaits
    ``arun()``; both return the value the flow receives."""

    def run(self) -> Any: ...

    async def arun(self) -> Any: ...


class Abandoned(BaseException):
    """Thrown into a flow at its :class:`Call` when the consumer closed (or dropped) the
    stream before it ended. Not an ``Exception``: ``except Exception`` does not catch it,
    ``finally`` does. A flow may run effects and then re-raise it (or return)."""


class Call:
    """Ask the inner handler. The flow receives the complete answer — for a stream, when
    the stream has ended — or has the failure thrown in at this point.

    After the yield the driver has filled in what it saw of a stream:

    Attributes:
        request: the request to send (a layer may have changed it).
        chunks: how many chunks reached the consumer (0 for a plain answer).
        first_chunk_at: ``timer()`` when the first chunk arrived (with ``timer=``).
        recorded: every chunk, in order (with ``record=True``), else ``None``.
        streamed: the answer was a stream.
    """

    __slots__ = ("chunks", "first_chunk_at", "recorded", "request", "streamed", "timer")

    def __init__(self, request: ChatRequest | EmbedRequest, *, record: bool = False,
                 timer: Callable[[], float] | None = None) -> None:
        self.request = request
        self.timer = timer
        self.recorded: list[Chunk] | None = [] if record else None
        self.chunks = 0
        self.first_chunk_at: float | None = None
        self.streamed = False

    def saw(self, chunk: Chunk) -> None:
        """One chunk reached the consumer (called by the drivers)."""
        self.chunks += 1
        if self.chunks == 1 and self.timer is not None:
            self.first_chunk_at = self.timer()
        if self.recorded is not None:
            self.recorded.append(chunk)


class Replay:
    """What a flow returns to answer a stream request itself (a cache hit): these chunks,
    then ``response`` as the stream's final response. A flow that returns a plain
    :class:`ChatResponse` for a stream request is replayed as one chunk."""

    __slots__ = ("chunks", "response")

    def __init__(self, response: ChatResponse, chunks: tuple[Chunk, ...] | None = None) -> None:
        self.response = response
        self.chunks = chunks if chunks is not None else (one_chunk(response),)


def one_chunk(response: ChatResponse) -> Chunk:
    """A whole answer as a single chunk (text, tool calls, finish reason and usage)."""
    calls = tuple(ToolCallDelta(i, call.id, call.name, call.arguments)
                  for i, call in enumerate(response.message.tool_calls))
    return Chunk(response.text, tool_calls=calls, finish_reason=response.finish_reason,
                 usage=response.usage)


class Blocking:
    """A call that may block on I/O (a store): run inline by the sync driver; by the async
    driver in a worker thread when ``blocking`` (SQLite, Redis) — on ``executor`` when one is
    given (a store's own thread, usually a :class:`~insightforge.kit.lane.Lane`), else on the
    event loop's default pool — inline when not (memory)."""

    __slots__ = ("args", "blocking", "executor", "fn", "kwargs")

    def __init__(self, fn: Callable[..., Any], *args: Any, blocking: bool = True,
                 executor: Executor | None = None, **kwargs: Any) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.blocking = blocking
        self.executor = executor

    def run(self) -> Any:
        return self.fn(*self.args, **self.kwargs)

    async def arun(self) -> Any:
        if not self.blocking:
            return self.fn(*self.args, **self.kwargs)
        if self.executor is None:
            return await asyncio.to_thread(self.fn, *self.args, **self.kwargs)
        context = contextvars.copy_context()  # as to_thread does
        call = functools.partial(context.run, self.fn, *self.args, **self.kwargs)
        if type(self.executor) is Lane:  # its own hop: one future, not two chained
            return await self.executor.acall(call)
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)


def executor_of(store: object) -> Executor | None:
    """The thread a store wants its blocking calls run on (``store.executor``), if any."""
    return getattr(store, "executor", None)


def store_call(fn: Callable[..., Any], *args: Any, blocking: bool,
               executor: Executor | None = None, **kwargs: Any) -> Generator[Any, Any, Any]:
    """``yield from store_call(store.get, key, blocking=store.blocking,
    executor=executor_of(store))``: a store call from a flow — a :class:`Blocking` effect
    for a store that blocks (SQLite, Redis), and for one that does not (memory) the call
    itself, made here as both drivers would make it, without the round trip through them
    (about a microsecond per call)."""
    if not blocking:
        return fn(*args, **kwargs)
    return (yield Blocking(fn, *args, executor=executor, **kwargs))


class Sleep:
    """Wait ``seconds``: ``sleep`` in the sync driver, ``asleep`` in the async one (both
    injectable, so tests run on a fake clock). ``note`` says why, to a
    :mod:`~insightforge.kit.progress` listener (default: ``kit.sleep``)."""

    __slots__ = ("asleep", "note", "seconds", "sleep")

    def __init__(self, seconds: float, sleep: Callable[[float], None] = time.sleep,
                 asleep: Callable[[float], Awaitable[None]] = asyncio.sleep, *,
                 note: TraceEvent | None = None) -> None:
        self.seconds = seconds
        self.sleep = sleep
        self.asleep = asleep
        self.note = note

    def _report(self) -> None:
        if progress.active():
            progress.report(self.note or TraceEvent("kit", "sleep",
                                                    f"waiting {self.seconds:.2f}s"),
                            self.seconds)

    def run(self) -> None:
        self._report()
        self.sleep(self.seconds)

    async def arun(self) -> None:
        self._report()
        await self.asleep(self.seconds)
