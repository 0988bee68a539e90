"""Streamed answers: :class:`ChatStream` (sync) and :class:`AsyncChatStream` (async).

A stream is an iterator of :class:`~insightforge.types.Chunk` with a lifecycle that ends
exactly once, in one of three ways, each with its hook:

* **end** — the source is exhausted; ``.response`` is the assembled
  :class:`~insightforge.types.ChatResponse` (``on_end`` may replace it: add cost, trace);
* **error** — the source raised; ``on_error`` sees the exception, which then propagates;
* **abandon** — the consumer called ``close()`` (or dropped the stream) before the end;
  ``on_close`` runs, so budgets release and audit logs write (PEP 3333's rule: never assume
  the consumer reads to the end).

Providers build streams from chunk iterators (:meth:`ChatStream.from_chunks`); layers wrap
the inner stream with :meth:`ChatStream.wrap`, which passes ``close`` through.
:meth:`ChatStream.prime` pulls the first chunk early, so a ``Retry`` or ``Fallback`` sees a
failure that happens before the first chunk and may act on it; after that nothing retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import attrs

from insightforge.types import ChatResponse, Chunk, Message, ToolCall, Usage

__all__ = ["AsyncChatStream", "ChatStream", "assemble"]

OnChunk = Callable[[Chunk], Any]
OnEnd = Callable[[ChatResponse], Any]
OnError = Callable[[BaseException], Any]
OnClose = Callable[[], Any]

_OPEN, _DONE, _FAILED, _CLOSED = "open", "done", "failed", "closed"
_NOT_DONE = ("The stream has not finished: iterate it to the end first "
             "(or call .collect(), or send the request without stream=True).")


class _Assembler:
    """Accumulates chunks into the final message; pure bookkeeping."""

    __slots__ = ("finish_reason", "parts", "tools", "usage")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.tools: dict[int, list[str]] = {}  # index -> [id, name, arguments...]
        self.finish_reason: str | None = None
        self.usage: Usage | None = None

    def add(self, chunk: Chunk) -> None:
        if chunk.text:
            self.parts.append(chunk.text)
        for delta in chunk.tool_calls:
            slot = self.tools.setdefault(delta.index, ["", ""])
            if delta.id:
                slot[0] = delta.id
            if delta.name:
                slot[1] = delta.name
            if delta.arguments:
                slot.append(delta.arguments)
        if chunk.finish_reason:
            self.finish_reason = chunk.finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage

    def response(self, *, model: str, provider: str, id: str) -> ChatResponse:
        calls = tuple(ToolCall(s[0], s[1], "".join(s[2:]) or "{}")
                      for _, s in sorted(self.tools.items()))
        message = Message("assistant", "".join(self.parts), tool_calls=calls)
        return ChatResponse(message, model, provider, self.usage or Usage(),
                            self.finish_reason, id)


def assemble(chunks: list[Chunk], *, model: str, provider: str, id: str = "") -> ChatResponse:
    """The response a list of chunks adds up to (used by caches replaying streams)."""
    acc = _Assembler()
    for chunk in chunks:
        acc.add(chunk)
    return acc.response(model=model, provider=provider, id=id)


@attrs.frozen(slots=True)
class _Hooks:
    on_chunk: OnChunk | None = None
    on_end: OnEnd | None = None
    on_error: OnError | None = None
    on_close: OnClose | None = None


class _StreamState:
    """State shared by both stream kinds: lifecycle, primed chunk, final response."""

    __slots__ = ("_error", "_hooks", "_primed", "_released", "_response", "_state")

    def __init__(self, hooks: _Hooks) -> None:
        self._hooks = hooks
        self._released = False  # the source's close has run (it runs at most once)
        self._state = _OPEN
        self._primed: Chunk | None = None
        self._response: ChatResponse | None = None
        self._error: BaseException | None = None

    @property
    def finished(self) -> bool:
        """True once the stream ended, failed or was closed."""
        return self._state != _OPEN

    @property
    def response(self) -> ChatResponse:
        """The assembled answer; only after the stream was read to the end."""
        if self._response is None:
            if self._error is not None:
                raise self._error
            raise RuntimeError(_NOT_DONE)
        return self._response


class ChatStream(_StreamState):
    """A synchronous stream of chunks. Iterate it; then read ``.response``.

    Use it as a context manager (or call :meth:`close`) when you may stop early.
    """

    __slots__ = ("__weakref__", "_acc", "_close_source", "_inner", "_meta", "_source")

    def __init__(self, source: Iterator[Chunk], *, model: str, provider: str, id: str = "",
                 close: Callable[[], None] | None = None, _inner: ChatStream | None = None,
                 _hooks: _Hooks | None = None) -> None:
        super().__init__(_hooks or _Hooks())
        self._source = source
        self._close_source = close
        self._inner = _inner
        self._meta = (model, provider, id)
        self._acc = _Assembler() if _inner is None else None

    @classmethod
    def from_chunks(cls, chunks: Iterator[Chunk], *, model: str, provider: str, id: str = "",
                    close: Callable[[], None] | None = None,
                    on_end: OnEnd | None = None) -> ChatStream:
        """A provider-level stream: assembles its own response from the chunks.

        ``on_end`` may finish the assembled response (a provider adds ``cost_usd``).
        """
        return cls(chunks, model=model, provider=provider, id=id, close=close,
                   _hooks=_Hooks(on_end=on_end))

    def wrap(self, *, on_chunk: OnChunk | None = None, on_end: OnEnd | None = None,
             on_error: OnError | None = None, on_close: OnClose | None = None) -> ChatStream:
        """A layer's view of this stream: same chunks, hooks on the lifecycle.

        ``on_end(response)`` may return a replacement response (or ``None`` to keep it).
        """
        model, provider, id = self._meta
        return ChatStream(self, model=model, provider=provider, id=id, close=self.close,
                          _inner=self, _hooks=_Hooks(on_chunk, on_end, on_error, on_close))

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> Chunk:
        if self._primed is not None:
            chunk, self._primed = self._primed, None
            return chunk
        if self._state != _OPEN:
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
        if self._primed is None and self._state == _OPEN:
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
        self._state = _DONE
        if self._inner is not None:
            response = self._inner.response
        else:
            assert self._acc is not None
            model, provider, id = self._meta
            response = self._acc.response(model=model, provider=provider, id=id)
        if self._hooks.on_end is not None:
            response = self._hooks.on_end(response) or response
        self._response = response

    def _fail(self, exc: BaseException) -> None:
        self._state = _FAILED
        self._error = exc
        if self._hooks.on_error is not None:
            self._hooks.on_error(exc)

    def close(self) -> None:
        """Stop early: closes the connection; layers see the abandonment once."""
        abandoned = self._state == _OPEN
        if abandoned:
            self._state = _CLOSED
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
        if getattr(self, "_state", None) == _OPEN:
            with contextlib.suppress(Exception):
                self.close()

    def __repr__(self) -> str:
        model, provider, _ = self._meta
        return f"<ChatStream {provider}:{model} {self._state}>"


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


_SENTINEL: Any = object()


class AsyncChatStream(_StreamState):
    """The async twin of :class:`ChatStream`: ``async for``, ``aclose()``, ``async with``.

    Hooks may be plain functions or coroutine functions.
    """

    __slots__ = ("__weakref__", "_acc", "_close_source", "_inner", "_meta", "_source")

    def __init__(self, source: AsyncIterator[Chunk], *, model: str, provider: str, id: str = "",
                 close: Callable[[], Awaitable[None]] | None = None,
                 _inner: AsyncChatStream | ChatStream | None = None,
                 _hooks: _Hooks | None = None) -> None:
        super().__init__(_hooks or _Hooks())
        self._source = source
        self._close_source = close
        self._inner = _inner
        self._meta = (model, provider, id)
        self._acc = _Assembler() if _inner is None else None

    @classmethod
    def from_chunks(cls, chunks: AsyncIterator[Chunk], *, model: str, provider: str,
                    id: str = "", close: Callable[[], Awaitable[None]] | None = None,
                    on_end: OnEnd | None = None) -> AsyncChatStream:
        """A provider-level stream: assembles its own response from the chunks."""
        return cls(chunks, model=model, provider=provider, id=id, close=close,
                   _hooks=_Hooks(on_end=on_end))

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
                               _inner=self, _hooks=_Hooks(on_chunk, on_end, on_error, on_close))

    def __aiter__(self) -> AsyncChatStream:
        return self

    async def __anext__(self) -> Chunk:
        if self._primed is not None:
            chunk, self._primed = self._primed, None
            return chunk
        if self._state != _OPEN:
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
        if self._primed is None and self._state == _OPEN:
            try:
                self._primed = await self.__anext__()
            except StopAsyncIteration:
                return None
            except BaseException:
                await self.aclose()
                raise
        return self._primed

    async def collect(self) -> ChatResponse:
        """Read the rest of the stream and return the assembled response."""
        async for _ in self:
            pass
        return self.response

    async def _end(self) -> None:
        self._state = _DONE
        if self._inner is not None:
            response = self._inner.response
        else:
            assert self._acc is not None
            model, provider, id = self._meta
            response = self._acc.response(model=model, provider=provider, id=id)
        if self._hooks.on_end is not None:
            response = (await _maybe_await(self._hooks.on_end(response))) or response
        self._response = response

    async def _fail(self, exc: BaseException) -> None:
        self._state = _FAILED
        self._error = exc
        if self._hooks.on_error is not None:
            await _maybe_await(self._hooks.on_error(exc))

    async def aclose(self) -> None:
        """Stop early: closes the connection; layers see the abandonment once."""
        abandoned = self._state == _OPEN
        if abandoned:
            self._state = _CLOSED
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
