"""``AsyncChatStream``: the async twin of ``ChatStream`` (see the package docstring)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

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
from insightforge.streams.sync import ChatStream
from insightforge.types import ChatResponse, Chunk

__all__ = ["AsyncChatStream"]


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


_SENTINEL: Any = object()


class AsyncChatStream(StreamState):
    """The async twin of :class:`ChatStream`: ``async for``, ``aclose()``, ``async with``.

    Hooks may be plain functions or coroutine functions.
    """

    __slots__ = ("__weakref__", "_close_source", "_source")

    def __init__(self, source: AsyncIterator[Chunk], *, model: str, provider: str, id: str = "",
                 close: Callable[[], Awaitable[None]] | None = None,
                 _inner: AsyncChatStream | ChatStream | None = None,
                 _hooks: Hooks | None = None, _assemble: bool = True) -> None:
        super().__init__(_hooks or Hooks(), model=model, provider=provider, id=id,
                         inner=_inner, assemble=_assemble)
        self._source = source
        self._close_source = close

    @classmethod
    def from_chunks(cls, chunks: AsyncIterator[Chunk], *, model: str, provider: str,
                    id: str = "", close: Callable[[], Awaitable[None]] | None = None,
                    on_end: OnEnd | None = None) -> AsyncChatStream:
        """A provider-level stream: assembles its own response from the chunks."""
        return cls(chunks, model=model, provider=provider, id=id, close=close,
                   _hooks=Hooks(on_end=on_end))

    @classmethod
    def from_sync(cls, stream: ChatStream) -> AsyncChatStream:
        """Drive a sync stream from async code; each chunk is read in a worker thread."""
        async def chunks() -> AsyncIterator[Chunk]:
            while (chunk := await asyncio.to_thread(next, stream, _SENTINEL)) is not _SENTINEL:
                yield chunk

        async def close() -> None:
            stream.close()

        model, provider, id = stream._meta
        return cls(chunks(), model=model, provider=provider, id=id, close=close, _inner=stream)

    def wrap(self, *, on_chunk: OnChunk | None = None, on_end: OnEnd | None = None,
             on_error: OnError | None = None, on_close: OnClose | None = None,
             ) -> AsyncChatStream:
        """A layer's view of this stream (see :meth:`ChatStream.wrap`)."""
        model, provider, id = self._meta
        return AsyncChatStream(self, model=model, provider=provider, id=id, close=self.aclose,
                               _inner=self, _hooks=Hooks(on_chunk, on_end, on_error, on_close))

    def __aiter__(self) -> AsyncChatStream:
        return self

    async def __anext__(self) -> Chunk:
        if self._primed is not None:
            chunk, self._primed = self._primed, None
            return chunk
        if self._state != OPEN:
            raise StopAsyncIteration
        try:
            chunk = await self._source.__anext__()
        except StopAsyncIteration:
            await self._end()
            raise
        except BaseException as exc:
            await self._fail(exc)
            raise
        if self._acc is not None:
            self._acc.add(chunk)
        if self._hooks.on_chunk is not None:
            await _maybe_await(self._hooks.on_chunk(chunk))
        return chunk

    async def aprime(self) -> Chunk | None:
        """Pull the first chunk now (see :meth:`ChatStream.prime`)."""
        if self._primed is None and self._state == OPEN:
            try:
                self._primed = await self.__anext__()
            except StopAsyncIteration:
                return None
            except BaseException:
                await self.aclose()
                raise
        return self._primed

    async def acollect(self) -> ChatResponse:
        """Read the rest of the stream and return the assembled response."""
        async for _ in self:
            pass
        return self.response

    collect = acollect  # the name the sync twin has (``await stream.collect()``)

    async def _end(self) -> None:
        self._state = DONE
        response = self._unhooked_response()
        if self._hooks.on_end is not None:
            response = (await _maybe_await(self._hooks.on_end(response))) or response
        self._response = response

    async def _fail(self, exc: BaseException) -> None:
        self._state = FAILED
        self._error = exc
        if self._hooks.on_error is not None:
            await _maybe_await(self._hooks.on_error(exc))

    async def aclose(self) -> None:
        """Stop early: closes the connection; layers see the abandonment once."""
        abandoned = self._state == OPEN
        if abandoned:
            self._state = CLOSED
        try:  # ended or failed streams still release their connection, once
            if not self._released and self._close_source is not None:
                self._released = True
                await self._close_source()
        finally:
            if abandoned and self._hooks.on_close is not None:
                await _maybe_await(self._hooks.on_close())

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        model, provider, _ = self._meta
        return f"<AsyncChatStream {provider}:{model} {self._state}>"
