"""Streams that survive a cut: the continuation a layer that tries again gives a stream.

When a stream that ``Retry`` or ``Fallback`` returned fails after chunks reached the
caller, the same layer's decision (:meth:`Attempts.failed`: wait and try the same route, or
move to the next) is asked again, and the rest of the answer comes from a continuation
(:mod:`.splice`: a prefill where the target declares it, else a clean restart of which only
the part extending the delivered text is passed on). The caller sees one seamless stream.
When the continuation does not extend what was delivered, or no route is left, the stream
ends with :class:`~insightforge.errors.StreamInterrupted` carrying the partial text — never
a truncated answer presented as complete. A prefill the target rejects (recent Claude
models) is followed by a clean restart on the same target, and the rejection never takes
the place of the real failure.

The trace records every piece (``stream.interrupted`` with the piece's provider, model and
what it delivered; ``stream.prefill_rejected``; ``stream.resumed``), so the audit log sees
them and a ``Budget`` above settles them. The answer names the provider and model of the
piece that finished it, with that piece's usage.

:class:`~insightforge.kit.resumption.Resumption` holds the decisions (no I/O); :func:`resume`
and :func:`aresume` here are the two thin drivers.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any

from insightforge.kit import progress
from insightforge.kit.alternates import offering
from insightforge.kit.resumption import Resumption
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.streams._state import Hooks
from insightforge.types import ChatRequest, Chunk

__all__ = ["Resumption", "aresume", "resume"]


def _track(state: Resumption, stream: Any) -> None:
    stream._meta = (state.piece.model, state.piece.provider, stream._meta[2])


def resume(run: Any, request: ChatRequest, first: ChatStream) -> ChatStream:
    """``first`` (primed) as a stream that continues when it is cut (sync)."""
    state = Resumption(run, request, first)
    holder: list[ChatStream] = []

    def chunks() -> Generator[Chunk, None, None]:
        while True:
            try:
                for chunk in state.piece:
                    out = state.passed(chunk)
                    if out is not None:
                        yield out
                state.ended()
                return
            except Exception as exc:
                final = state.stopped(exc)
            state.piece.close()
            if final is not None:
                raise final
            _continue(state)
            _track(state, holder[0])

    def close() -> None:
        source.close()
        state.piece.close()

    source = chunks()
    stream = ChatStream(source, model=first.model, provider=first.provider, id=first._meta[2],
                        close=close, _hooks=Hooks(on_end=state.finish), _assemble=False)
    holder.append(stream)
    return stream


def _decide(state: Resumption) -> float:
    """The layer's decision on the failure: the wait before the next piece (reported to a
    progress display), or the error that ends the stream."""
    run = state.run
    try:
        delay: float = run.failed(state.decision_error())
    except Exception as raised:
        raise state.give_up(raised) from None
    if progress.active() and run.events:
        progress.report(run.events[-1], delay)
    return delay


def _continue(state: Resumption) -> None:
    run = state.run
    while True:
        delay = _decide(state)
        if delay:
            run.sleep(delay)
        target = run.target
        with offering(run.offers_alternate):
            try:
                stream = _open(target, state.ask(target))
            except Exception as error:
                if not state.rejected(error):
                    state.failed_to_start(error)
                    continue
                try:
                    stream = _open(target, state.ask(target, prefill=False))
                except Exception as again:
                    state.failed_to_start(again)
                    continue
        state.begin(stream)
        return


def _open(target: Any, request: ChatRequest) -> ChatStream:
    stream = target(request)
    if not isinstance(stream, ChatStream):
        raise TypeError(f"a stream continuation was answered with {type(stream).__name__}")
    stream.prime()
    return stream


def aresume(run: Any, request: ChatRequest, first: AsyncChatStream) -> AsyncChatStream:
    """The async twin of :func:`resume`."""
    state = Resumption(run, request, first)
    holder: list[AsyncChatStream] = []

    async def chunks() -> AsyncGenerator[Chunk, None]:
        while True:
            try:
                async for chunk in state.piece:
                    out = state.passed(chunk)
                    if out is not None:
                        yield out
                state.ended()
                return
            except Exception as exc:
                final = state.stopped(exc)
            await state.piece.aclose()
            if final is not None:
                raise final
            await _acontinue(state)
            _track(state, holder[0])

    async def close() -> None:
        await source.aclose()
        await state.piece.aclose()

    source = chunks()
    stream = AsyncChatStream(source, model=first.model, provider=first.provider,
                             id=first._meta[2], close=close,
                             _hooks=Hooks(on_end=state.finish), _assemble=False)
    holder.append(stream)
    return stream


async def _acontinue(state: Resumption) -> None:
    run = state.run
    while True:
        delay = _decide(state)
        if delay:
            await run.asleep(delay)
        target = run.target
        with offering(run.offers_alternate):
            try:
                stream = await _aopen(target, state.ask(target))
            except Exception as error:
                if not state.rejected(error):
                    state.failed_to_start(error)
                    continue
                try:
                    stream = await _aopen(target, state.ask(target, prefill=False))
                except Exception as again:
                    state.failed_to_start(again)
                    continue
        state.begin(stream)
        return


async def _aopen(target: Any, request: ChatRequest) -> AsyncChatStream:
    stream = await target.acall(request)
    if not isinstance(stream, AsyncChatStream):
        raise TypeError(f"a stream continuation was answered with {type(stream).__name__}")
    await stream.aprime()
    return stream
