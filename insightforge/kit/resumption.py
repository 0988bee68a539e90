"""One continued stream's state, free of I/O: what reached the caller, and the decisions
(:class:`Resumption`) that :mod:`insightforge.kit.resume`'s two drivers act on.

What lives here: passing on (or holding back) a piece's chunks through the
:class:`~insightforge.kit.splice.Splice`, recording an interruption and whether the layer
acts on it, the continuation request for a target, a refused prefill, the error that ends a
stream no route could complete, the final response, and the trace events of every piece.
What must not: calling handlers, sleeping, streams' I/O — the drivers do that.
"""

from __future__ import annotations

from typing import Any

import attrs

from insightforge.errors import StreamInterrupted
from insightforge.kit.rules import retryable
from insightforge.kit.splice import Splice, continuation, prefill_ok, text_only
from insightforge.kit.trace import add_trace
from insightforge.types import ChatRequest, ChatResponse, Chunk, Message, TraceEvent

__all__ = ["Diverged", "Resumption"]


class Diverged(Exception):
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
        :class:`Diverged` when a continuation departs from the delivered text."""
        if self.splice is not None and not self.splice.caught_up:
            part = self.splice.feed(chunk.text) if text_only(chunk) else None
            if part is None or (chunk.finish_reason and not self.splice.caught_up):
                raise Diverged  # it departs, or ends before reaching what the caller has
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
            raise Diverged

    # -- failures -------------------------------------------------------------------------
    def stopped(self, exc: Exception) -> BaseException | None:
        """:meth:`interrupted` for whatever ended the current piece early (a
        :class:`Diverged` continuation stands for the failure that started it)."""
        if isinstance(exc, Diverged):
            return self.interrupted(self.cause or RuntimeError("diverged"), diverged=True)
        return self.interrupted(exc)

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
