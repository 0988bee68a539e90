"""The two generic drivers that run a flow: :func:`drive` (sync) and :func:`adrive` (async).

A driver sends each effect's result into the flow (or throws its failure in) until the flow
returns. When the inner call answers with a stream, the driver returns that stream wrapped,
and the rest of the flow runs when the stream ends: the assembled response is sent in (end),
the failure thrown in (error), or :class:`~insightforge.kit.effects.Abandoned` thrown in
(``close()``, or the stream dropped unread). Whatever the flow returns is the stream's final
response. So a flow reads the same for plain answers and streams, and the sync and async
drivers make the same decisions by construction: the decisions are all in the flow.

Rules: a flow calls the inner handler at most once per stream; a value a flow returns for a
stream request that it answered itself (a :class:`~insightforge.kit.effects.Replay`, or a plain
response) is replayed as a stream of the caller's kind.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Generator
from typing import Any

from insightforge.kit.effects import Abandoned, Call, Replay
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.types import ChatRequest, ChatResponse, EmbedRequest

__all__ = ["Flow", "adrive", "drive"]

Flow = Generator[Any, Any, Any]
"""A layer's per-call logic: yields effects, receives their results, returns the answer."""


def drive(flow: Flow, inner: Any, request: ChatRequest | EmbedRequest) -> Any:
    """Run ``flow`` with ``inner`` as the inner handler, synchronously."""
    return _answer(_run(flow, inner), request, ChatStream)


async def adrive(flow: Flow, inner: Any, request: ChatRequest | EmbedRequest) -> Any:
    """Run ``flow`` with ``inner`` as the inner handler, on the event loop."""
    return _answer(await _arun(flow, inner), request, AsyncChatStream)


def _run(flow: Flow, inner: Any, send: Any = None, error: BaseException | None = None) -> Any:
    """Step the flow until it returns, or until its call answers with a stream."""
    while True:
        try:
            effect = flow.send(send) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value
        send = error = None
        try:
            if type(effect) is not Call:
                send = effect.run()
                continue
            result = inner(effect.request)
        except BaseException as exc:
            error = exc
            continue
        if not isinstance(result, ChatStream):
            send = result
            continue
        return _watch(result, _Rest(flow, inner, effect))


async def _arun(flow: Flow, inner: Any, send: Any = None,
                error: BaseException | None = None) -> Any:
    """The async twin of :func:`_run`."""
    while True:
        try:
            effect = flow.send(send) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value
        send = error = None
        try:
            if type(effect) is not Call:
                send = await effect.arun()
                continue
            result = await inner.acall(effect.request)
        except BaseException as exc:
            error = exc
            continue
        if not isinstance(result, AsyncChatStream):
            send = result
            continue
        return _awatch(result, _Rest(flow, inner, effect))


def _answer(value: Any, request: ChatRequest | EmbedRequest, kind: type[Any]) -> Any:
    """The flow's value for the caller: a stream request always gets a stream."""
    if isinstance(value, (ChatStream, AsyncChatStream)) or not request.stream:
        return value
    replay = value if isinstance(value, Replay) else Replay(value)
    final, chunks = replay.response, replay.chunks
    if kind is ChatStream:
        return ChatStream.from_chunks(iter(chunks), model=final.model, provider=final.provider,
                                      id=final.id, on_end=lambda _: final)

    async def source() -> Any:
        for chunk in chunks:
            yield chunk

    return AsyncChatStream.from_chunks(source(), model=final.model, provider=final.provider,
                                       id=final.id, on_end=lambda _: final)


class _Rest:
    """The rest of a flow that waits for a stream's ending; it runs exactly once."""

    __slots__ = ("call", "finalizer", "flow", "inner", "ran")

    def __init__(self, flow: Flow, inner: Any, call: Call) -> None:
        self.flow = flow
        self.inner = inner
        self.call = call
        self.ran = False
        self.finalizer: weakref.finalize[Any, Any] | None = None
        call.streamed = True

    def claim(self) -> bool:
        if self.ran:
            return False
        self.ran = True
        if self.finalizer is not None:
            self.finalizer.detach()
        return True

    # -- sync endings -------------------------------------------------------------------
    def end(self, response: ChatResponse) -> ChatResponse | None:
        return _final(_run(self.flow, self.inner, send=response)) if self.claim() else None

    def fail(self, error: BaseException) -> None:
        if self.claim():
            _swallow(error, lambda: _run(self.flow, self.inner, error=error))

    def abandon(self) -> None:
        if self.claim():
            abandoned = Abandoned()
            _swallow(abandoned, lambda: _run(self.flow, self.inner, error=abandoned))

    # -- async endings ------------------------------------------------------------------
    async def aend(self, response: ChatResponse) -> ChatResponse | None:
        if not self.claim():
            return None
        return _final(await _arun(self.flow, self.inner, send=response))

    async def afail(self, error: BaseException) -> None:
        if self.claim():
            try:
                await _arun(self.flow, self.inner, error=error)
            except BaseException as exc:
                if exc is not error:
                    raise

    async def aabandon(self) -> None:
        if self.claim():
            with contextlib.suppress(Abandoned):
                await _arun(self.flow, self.inner, error=Abandoned())


def _swallow(expected: BaseException, rest: Any) -> None:
    """Run the rest of a flow after a failure: re-raising that failure is the normal way
    to end (the stream raises it anyway); any other exception replaces it."""
    try:
        rest()
    except BaseException as exc:
        if exc is not expected:
            raise


def _final(value: Any) -> ChatResponse | None:
    if value is None or isinstance(value, ChatResponse):
        return value
    raise RuntimeError(f"a flow must return the stream's final ChatResponse, got "
                       f"{type(value).__name__} (a flow calls the inner handler once)")


def _watch(stream: ChatStream, rest: _Rest) -> ChatStream:
    return stream.wrap(on_chunk=rest.call.saw, on_end=rest.end, on_error=rest.fail,
                       on_close=rest.abandon)


def _awatch(stream: AsyncChatStream, rest: _Rest) -> AsyncChatStream:
    wrapped = stream.wrap(on_chunk=rest.call.saw, on_end=rest.aend, on_error=rest.afail,
                          on_close=rest.aabandon)
    # An async stream dropped without aclose() has no __del__ to close it: when it is
    # collected, the rest of the flow still runs (abandoned), with the effects' sync forms.
    rest.finalizer = weakref.finalize(wrapped, rest.abandon)
    return wrapped
