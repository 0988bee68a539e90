"""Reading an OpenAI-wire stream event by event: one malformed event skipped, a missing
``[DONE]`` never waited for.

What lives here: :class:`EventStream` / :class:`AsyncEventStream`, the openai SDK's own
SSE streams (its transport, decoder and transport errors) yielding the raw events instead
of decoded JSON, so each event is decoded here; and :class:`EventReader`, the pure state of
one stream — the response id and model, whether the finish chunk came, events skipped —
which turns an event's data into a :class:`~insightforge.types.Chunk`:

* an event that is not JSON, or JSON of the wrong shape, is **skipped** (counted, and the
  final response gets a ``stream.skipped`` trace event) or **fails** the stream with
  :class:`~insightforge.errors.MalformedResponse`, as the provider's ``malformed_events``
  says; garbage never reaches the text;
* an ``error`` event fails the stream with the mapped error, as the SDK would;
* the stream is **complete** once the finish chunk and (when asked for) the usage chunk
  came: the reader stops there, so a server that never sends ``[DONE]`` costs nothing.

What must not live here: the HTTP call, the chunk mapping itself
(:func:`providers._openai_wire.parse_chunk`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai

from insightforge.errors import MalformedResponse
from insightforge.types import Chunk, TraceEvent
from providers import _openai_wire as wire

__all__ = ["AsyncEventStream", "EventReader", "EventStream"]


class EventStream(openai.Stream[object]):
    """The SDK's stream, yielding each server-sent event undecoded (up to ``[DONE]``)."""

    def __stream__(self) -> Iterator[Any]:
        try:
            for event in self._iter_events():
                if event.data.startswith("[DONE]"):
                    break
                yield event
        finally:
            self.response.close()


class AsyncEventStream(openai.AsyncStream[object]):
    """The async twin of :class:`EventStream`."""

    async def __stream__(self) -> AsyncIterator[Any]:
        try:
            async for event in self._iter_events():
                if event.data.startswith("[DONE]"):
                    break
                yield event
        finally:
            await self.response.aclose()


class EventReader:
    """One stream's state (pure): events in, chunks out (see the module docstring).

    Attributes:
        id, model: what the first event named. finished: the finish chunk came.
        complete: nothing more is expected (finish and, when asked for, usage).
        skipped: events skipped as undecodable.
    """

    __slots__ = ("complete", "finished", "id", "model", "provider", "skip", "skipped",
                 "usage_expected")

    def __init__(self, provider: str, *, skip: bool, usage_expected: bool) -> None:
        self.provider = provider
        self.skip = skip
        self.usage_expected = usage_expected
        self.id: str | None = None
        self.model: str | None = None
        self.finished = self.complete = False
        self.skipped = 0

    def feed(self, data: str, request: Any = None) -> Chunk | None:
        """The chunk one event's data carries (``None``: nothing, or skipped)."""
        try:
            decoded = json.loads(data)
        except ValueError as exc:
            self._bad(wire.malformed(self.provider, "a stream event", exc))
            return None
        if isinstance(decoded, dict) and decoded.get("error"):
            raise self._error(decoded["error"], request)
        if self.id is None and isinstance(decoded, dict):
            got_id, got_model = decoded.get("id"), decoded.get("model")
            self.id = got_id if isinstance(got_id, str) else ""
            self.model = got_model if isinstance(got_model, str) and got_model else None
        try:
            chunk = wire.parse_chunk(decoded, provider=self.provider)
        except MalformedResponse as error:
            self._bad(error)
            return None
        if chunk is not None:
            self.finished = self.finished or chunk.finish_reason is not None
            usage_done = chunk.usage is not None or not self.usage_expected
            self.complete = self.finished and usage_done
        return chunk

    def _bad(self, error: MalformedResponse) -> None:
        if not self.skip:
            raise error
        self.skipped += 1
        return None

    def _error(self, body: Any, request: Any) -> BaseException:
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, str) or not message:
            message = "An error occurred during streaming"
        error = openai.APIError(message=message, request=request, body=body)
        return wire.map_error(self.provider, error)

    def events(self) -> tuple[TraceEvent, ...]:
        """What the final response's trace should say about this stream."""
        if not self.skipped:
            return ()
        return (TraceEvent("stream", "skipped",
                           f"{self.provider} sent {self.skipped} undecodable stream "
                           "event(s); skipped (malformed_events='skip')",
                           {"provider": self.provider, "count": self.skipped}),)
