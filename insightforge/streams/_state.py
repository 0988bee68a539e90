"""What both stream kinds share: the lifecycle states, the hooks, ``response``.

A stream ends exactly once — done, failed or closed (abandoned) — and each ending has its
hook. No I/O here and nothing sync- or async-specific.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from insightforge.streams.assemble import Assembler
from insightforge.types import ChatResponse, Chunk
from insightforge.types.messages import assistant_message

__all__ = ["CLOSED", "DONE", "FAILED", "OPEN", "Hooks", "OnChunk", "OnClose", "OnEnd",
           "OnError", "StreamState"]

OnChunk = Callable[[Chunk], Any]
OnEnd = Callable[[ChatResponse], Any]
OnError = Callable[[BaseException], Any]
OnClose = Callable[[], Any]

OPEN, DONE, FAILED, CLOSED = "open", "done", "failed", "closed"
_NOT_DONE = ("The stream has not finished: iterate it to the end first "
              "(or call .collect(), or send the request without stream=True).")


@attrs.frozen(slots=True)
class Hooks:
    on_chunk: OnChunk | None = None
    on_end: OnEnd | None = None
    on_error: OnError | None = None
    on_close: OnClose | None = None


class StreamState:
    """State shared by both stream kinds: lifecycle, primed chunk, final response."""

    __slots__ = ("_acc", "_error", "_hooks", "_inner", "_meta", "_primed", "_released",
                 "_response", "_state")

    def __init__(self, hooks: Hooks, *, model: str, provider: str, id: str,
                 inner: StreamState | None, assemble: bool = True) -> None:
        self._hooks = hooks
        self._inner = inner  # a layer's stream reads its response from the stream it wraps
        self._meta = (model, provider, id)
        # a source stream assembles its response, unless its on_end makes the response
        self._acc = Assembler() if inner is None and assemble else None
        self._released = False  # the source's close has run (it runs at most once)
        self._state = OPEN
        self._primed: Chunk | None = None
        self._response: ChatResponse | None = None
        self._error: BaseException | None = None

    def _unhooked_response(self) -> ChatResponse:
        """The response before this stream's ``on_end``: the inner stream's, or assembled."""
        if self._inner is not None:
            return self._inner.response
        model, provider, id = self._meta
        if self._acc is None:  # not assembled: on_end makes the response
            return ChatResponse(assistant_message("", (), ()), model, provider, id=id)
        return self._acc.response(model=model, provider=provider, id=id)

    @property
    def model(self) -> str:
        """The model producing the stream now: after a fallback the alternate's, after a
        mid-stream failover the one producing the rest (the final response says which
        finished it)."""
        return self._inner.model if self._inner is not None else self._meta[0]

    @property
    def provider(self) -> str:
        """The provider producing the stream now (see :attr:`model`)."""
        return self._inner.provider if self._inner is not None else self._meta[1]

    @property
    def finished(self) -> bool:
        """True once the stream ended, failed or was closed."""
        return self._state != OPEN

    @property
    def response(self) -> ChatResponse:
        """The assembled answer; only after the stream was read to the end."""
        if self._response is None:
            if self._error is not None:
                raise self._error
            raise RuntimeError(_NOT_DONE)
        return self._response
