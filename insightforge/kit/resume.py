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

:class:`Resumption` holds the decisions (no I/O); :func:`resume` and :func:`aresume` are the
two thin drivers.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any

import attrs

from insightforge.errors import StreamInterrupted
from insightforge.kit import progress
from insightforge.kit.alternates import offering
from insightforge.kit.rules import retryable
from insightforge.kit.splice import Splice, continuation, prefill_ok, text_only
from insightforge.kit.trace import add_trace
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.streams._state import Hooks
from insightforge.types import ChatRequest, ChatResponse, Chunk, Message, TraceEvent

__all__ = ["Resumption", "aresume", "resume"]


class _Diverged(Exception):
    """The continuation does not extend what was delivered (internal)."""


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


class Resumption:
    """One stream's continuation state: what reached the caller, and the decisions.

    ``run`` is the layer's :class:`~insightforge.kit.repeat.Attempts` (``failed``,
    ``target``, ``events``, ``acts_on``, ``offers_alternate``, ``label``).
    """

    __slots__ = ("after", "base", "cause", "delivered", "errors", "piece", "piece_chunks",
                 "piece_start", "reason", "request", "resumed", "run", "splice", "text")

    def __init__(self, run: Any, request: ChatRequest, first: Any) -> None:
        self.run = run
        self.request = request
        self.piece = first
        self.delivered: list[str] = []
        self.text = True
        self.splice: Splice | None = None
        self.base = ""
        self.cause: BaseException | None = None
        self.errors: list[BaseException] = []
        self.reason = "exhausted"
        self.resumed = 0
        self.piece_chunks = self.piece_start = 0  # chunks passed on; its first in delivered
        self.after = 0  # the first delivered piece past a continuation's catching up

    @property
    def partial(self) -> str:
        return "".join(self.delivered)

    # -- chunks ---------------------------------------------------------------------------
    def passed(self, chunk: Chunk) -> Chunk | None:
        """What of ``chunk`` (from the current piece) goes to the caller; raises
        :class:`_Diverged` when a continuation departs from the delivered text."""
        if self.splice is not None and not self.splice.caught_up:
            part = self.splice.feed(chunk.text) if text_only(chunk) else None
            if part is None or (chunk.finish_reason and not self.splice.caught_up):
                raise _Diverged  # it departs, or ends before reaching what the caller has
            if part != chunk.text:
                chunk = attrs.evolve(chunk, text=part)
            if self.splice.caught_up:
                self.after = len(self.delivered) + (1 if part else 0)
            if not (part or chunk.finish_reason or chunk.usage is not None):
                return None
        if chunk.tool_calls or chunk.thinking:
            self.text = False
        if chunk.text:
            self.delivered.append(chunk.text)
        self.piece_chunks += 1
        return chunk

    def _piece_output(self) -> tuple[int, int]:
        """(characters passed on, bytes produced) by the current piece — a restarted piece
        produced what it repeated too."""
        passed = "".join(self.delivered[self.piece_start:])
        if self.splice is None:
            return len(passed), _bytes(passed)
        produced = self.splice.seen[len(self.base):]
        if self.splice.caught_up:
            produced += "".join(self.delivered[self.after:])
        return len(passed), _bytes(produced)

    def ended(self) -> None:
        """The current piece ended; a restart that never caught up did not extend it."""
        if self.splice is not None and not self.splice.caught_up:
            raise _Diverged

    # -- failures -------------------------------------------------------------------------
    def interrupted(self, error: BaseException, diverged: bool = False) -> BaseException | None:
        """Record the current piece's failure. ``None``: try to continue; else the error to
        raise (unchanged, when the layer does not act on it or chunks other than text
        reached the caller)."""
        inner = isinstance(error, StreamInterrupted)  # a layer below recorded the piece
        cause = error.cause if isinstance(error, StreamInterrupted) else error
        piece = self.piece
        what = " (did not extend the delivered text)" if diverged else ""
        if not inner:
            chars, produced = self._piece_output()
            self._event("interrupted", f"{type(cause).__name__} after {chars} "
                        f"characters from {piece.provider}{what}",
                        {"provider": piece.provider, "model": piece.model,
                         "error": type(cause).__name__, "chunks": self.piece_chunks,
                         "chars": chars, "output_bytes": produced,
                         "prefill_bytes": _bytes(self.base), "diverged": diverged})
        if self.cause is None:
            self.cause = cause
        self.reason = "diverged" if diverged else "exhausted"
        if not diverged:
            self.errors.append(cause)
        if not isinstance(error, Exception) or not self.text or not self.run.acts_on(cause):
            add_trace(error, self.run.events)
            return error
        return None

    def decision_error(self) -> BaseException:
        """The error the layer decides on: the latest failure (a diverged continuation
        counts as its route failing the way the stream first failed)."""
        assert self.cause is not None
        return self.cause if self.reason == "diverged" else self.errors[-1]

    def give_up(self, raised: BaseException) -> StreamInterrupted:
        """The error that ends the stream once the layer has given up (``raised`` is what
        its decision raised: the error itself, or ``AllProvidersFailed``)."""
        assert self.cause is not None
        error = StreamInterrupted(self.partial, self.cause, errors=self.errors,
                                  reason=self.reason)
        error.add_trace(*(getattr(raised, "trace", ()) or self.run.events))
        return error

    # -- continuing -----------------------------------------------------------------------
    def ask(self, target: Any, prefill: bool | None = None) -> ChatRequest:
        """The continuation request for ``target`` (prefill when it declares it, unless
        ``prefill`` is False)."""
        if prefill is None:
            prefill = prefill_ok(self.request, target.routes(), self.partial)
        request, self.base = continuation(self.request, self.partial, prefill)
        return request

    def rejected(self, error: BaseException) -> bool:
        """A prefill continuation failed before its first chunk: whether to restart cleanly
        on the same target (the target refused the prefill itself, not a transient fault)."""
        if not self.base or retryable(error):
            return False
        self.errors.append(error)
        self._event("prefill_rejected", f"{getattr(error, 'provider', '?')} refused the "
                    f"prefill ({type(error).__name__}); restarting cleanly",
                    {"provider": getattr(error, "provider", "?"),
                     "error": type(error).__name__})
        return True

    def failed_to_start(self, error: BaseException) -> None:
        self.errors.append(error)
        self.reason = "exhausted"

    def begin(self, stream: Any) -> None:
        """The continuation ``stream`` answered (primed): pass on what extends the text
        (the failed piece is closed already)."""
        self.piece = stream
        self.splice = Splice(self.partial, self.base)
        self.resumed += 1
        self.piece_chunks, self.piece_start = 0, len(self.delivered)
        how = "prefill" if self.base else "restart"
        self._event("resumed", f"resumed on {stream.provider} ({how}) after "
                    f"{len(self.partial)} characters",
                    {"provider": stream.provider, "model": stream.model, "how": how,
                     "chars": len(self.partial)})

    def finish(self, _: ChatResponse) -> ChatResponse:
        """The stream's final response: the last piece's (its provider, model, usage,
        cost), with the whole delivered text and every event."""
        last: ChatResponse = self.piece.response
        if self.resumed:
            last = attrs.evolve(last, message=Message("assistant", self.partial))
        return self.run.finish(last)  # type: ignore[no-any-return]

    def _event(self, event: str, detail: str, data: dict[str, Any]) -> None:
        self.run.events.append(TraceEvent("stream", event, detail,
                                          {"layer": self.run.label, **data}))


def _track(state: Resumption, stream: Any) -> None:
    stream._meta = (state.piece.model, state.piece.provider, stream._meta[2])


def resume(run: Any, request: ChatRequest, first: ChatStream) -> ChatStream:
    """``first`` (primed) as a stream that continues when it is cut (sync)."""
    state = Resumption(run, request, first)
    holder: list[ChatStream] = []

    def chunks() -> Generator[Chunk, None, None]:
        while True:
            diverged = False
            try:
                for chunk in state.piece:
                    out = state.passed(chunk)
                    if out is not None:
                        yield out
                state.ended()
                return
            except _Diverged:
                error: BaseException = state.cause or RuntimeError("diverged")
                diverged = True
            except Exception as exc:
                error = exc
            final = state.interrupted(error, diverged)
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


def _continue(state: Resumption) -> None:
    run = state.run
    while True:
        try:
            delay = run.failed(state.decision_error())
        except Exception as raised:
            raise state.give_up(raised) from None
        if progress.active() and run.events:
            progress.report(run.events[-1], delay)
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
            diverged = False
            try:
                async for chunk in state.piece:
                    out = state.passed(chunk)
                    if out is not None:
                        yield out
                state.ended()
                return
            except _Diverged:
                error: BaseException = state.cause or RuntimeError("diverged")
                diverged = True
            except Exception as exc:
                error = exc
            final = state.interrupted(error, diverged)
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
        try:
            delay = run.failed(state.decision_error())
        except Exception as raised:
            raise state.give_up(raised) from None
        if progress.active() and run.events:
            progress.report(run.events[-1], delay)
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
