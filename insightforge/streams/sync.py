"""``ChatStream``: the synchronous stream of chunks (see the package docstring)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from insightforge.streams._state import (
    CLOSED,
    DONE,
    FAILED,
    OPEN,
    Hooks,
    OnChunk,
    OnClose,
    OnEnd,
    OnError,
    StreamState,
)
from insightforge.types import ChatResponse, Chunk

__all__ = ["ChatStream"]


class ChatStream(StreamState):
    """A synchronous stream of chunks. Iterate it; then read ``.response``.

    Use it as a context manager (or call :meth:`close`) when you may stop early.
    """

    __slots__ = ("__weakref__", "_close_source", "_source")

    def __init__(self, source: Iterator[Chunk], *, model: str, provider: str, id: str = "",
                 close: Callable[[], None] | None = None, _inner: ChatStream | None = None,
                 _hooks: Hooks | None = None, _assemble: bool = True) -> None:
        super().__init__(_hooks or Hooks(), model=model, provider=provider, id=id,
                         inner=_inner, assemble=_assemble)
        self._source = source
        self._close_source = close

    @classmethod
    def from_chunks(cls, chunks: Iterator[Chunk], *, model: str, provider: str, id: str = "",
                    close: Callable[[], None] | None = None,
                    on_end: OnEnd | None = None) -> ChatStream:
        """A provider-level stream: assembles its own response from the chunks.

        ``on_end`` may finish the assembled response (a provider adds ``cost_usd``).
        """
        return cls(chunks, model=model, provider=provider, id=id, close=close,
                   _hooks=Hooks(on_end=on_end))

    def wrap(self, *, on_chunk: OnChunk | None = None, on_end: OnEnd | None = None,
             on_error: OnError | None = None, on_close: OnClose | None = None) -> ChatStream:
        """A layer's view of this stream: same chunks, hooks on the lifecycle.

        ``on_end(response)`` may return a replacement response (or ``None`` to keep it).
        """
        model, provider, id = self._meta
        return ChatStream(self, model=model, provider=provider, id=id, close=self.close,
                          _inner=self, _hooks=Hooks(on_chunk, on_end, on_error, on_close))

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> Chunk:
        if self._primed is not None:
            chunk, self._primed = self._primed, None
            return chunk
        if self._state != OPEN:
            raise StopIteration
        try:
            chunk = next(self._source)
        except StopIteration:
            self._end()
            raise
        except BaseException as exc:
            self._fail(exc)
            raise
        if self._acc is not None:
            self._acc.add(chunk)
        if self._hooks.on_chunk is not None:
            self._hooks.on_chunk(chunk)
        return chunk

    def prime(self) -> Chunk | None:
        """Pull the first chunk now (errors before it raise here); iteration yields it first.

        A failure here also releases the connection: the stream is dead, and the caller (a
        ``Retry`` or ``Fallback`` about to try again) must not leak it.
        """
        if self._primed is None and self._state == OPEN:
            try:
                self._primed = next(self, None)
            except BaseException:
                self.close()
                raise
        return self._primed

    def collect(self) -> ChatResponse:
        """Read the rest of the stream and return the assembled response."""
        for _ in self:
            pass
        return self.response

    def _end(self) -> None:
        self._state = DONE
        response = self._unhooked_response()
        if self._hooks.on_end is not None:
            response = self._hooks.on_end(response) or response
        self._response = response

    def _fail(self, exc: BaseException) -> None:
        self._state = FAILED
        self._error = exc
        if self._hooks.on_error is not None:
            self._hooks.on_error(exc)

    def close(self) -> None:
        """Stop early: closes the connection; layers see the abandonment once."""
        abandoned = self._state == OPEN
        if abandoned:
            self._state = CLOSED
        try:  # ended or failed streams still release their connection, once
            if not self._released and self._close_source is not None:
                self._released = True
                self._close_source()
        finally:
            if abandoned and self._hooks.on_close is not None:
                self._hooks.on_close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_state", None) == OPEN:
            with contextlib.suppress(Exception):
                self.close()

    def __repr__(self) -> str:
        model, provider, _ = self._meta
        return f"<ChatStream {provider}:{model} {self._state}>"
