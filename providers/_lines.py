"""Pure readers of answers and streams, shared by every httpx-based provider — no I/O.

What lives here: :func:`decode_json` (a body as a JSON object or
:class:`~insightforge.errors.MalformedResponse`), :func:`ndjson_object` (one NDJSON line),
:class:`SSEDecoder` (server-sent events from text lines, the WHATWG rules we need), the
:class:`StreamDecoder` protocol a vendor's stream state machine follows, and
:func:`drive`/:func:`adrive`, which feed lines to such a decoder and raise
:func:`truncated` when the lines end before the vendor's end marker.

What must not live here: sockets, httpx, any one vendor's wire format (that is the
provider's ``_*_wire`` module).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

from insightforge.errors import InsightForgeError, MalformedResponse, ProviderUnavailable
from insightforge.types import Chunk, TraceEvent
from providers._errors import detach
from providers._failures import mid_stream

__all__ = ["SSEDecoder", "SSEEvent", "Skips", "StreamDecoder", "adrive", "decode_json", "drive",
           "ndjson_object", "truncated"]

Lines = Iterator[str]


def decode_json(provider: str, content: bytes | str) -> dict[str, Any]:
    """A JSON object from a body; anything else is :class:`MalformedResponse`."""
    try:
        data = json.loads(content)
    except (ValueError, TypeError) as exc:
        raise MalformedResponse(f"{provider} sent a body that is not JSON ({exc}).",
                                provider=provider) from None
    if not isinstance(data, dict):
        raise MalformedResponse(f"{provider} sent JSON that is not an object "
                                f"({type(data).__name__}).", provider=provider)
    return data


def ndjson_object(provider: str, line: str) -> dict[str, Any] | None:
    """One NDJSON line as an object; ``None`` for a blank line."""
    line = line.strip()
    return decode_json(provider, line) if line else None


class SSEEvent:
    """One server-sent event: its ``event`` name (default ``message``) and ``data`` text."""

    __slots__ = ("data", "event")

    def __init__(self, event: str, data: str) -> None:
        self.event = event
        self.data = data

    def __repr__(self) -> str:
        return f"SSEEvent({self.event!r}, {self.data[:60]!r})"


class SSEDecoder:
    """Server-sent events from text lines (the WHATWG rules we need; no I/O).

    Feed each line without its line ending; a blank line dispatches the event. Comments
    (``:``) and ``id``/``retry`` fields are ignored.
    """

    __slots__ = ("_data", "_event")

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> SSEEvent | None:
        line = line.rstrip("\r\n")
        if not line:
            if not self._data and not self._event:
                return None
            event = SSEEvent(self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        return None


class StreamDecoder(Protocol):
    """A vendor's pure stream state machine: lines in, chunks out.

    ``feed`` raises the mapped error for an error event or a malformed line; ``done``
    turns true at the vendor's end marker; ``finish`` is called when the lines run out.
    """

    done: bool

    def feed(self, line: str) -> list[Chunk]: ...


def truncated(provider: str, why: str = "", chunks: int | None = None) -> ProviderUnavailable:
    """The error for a stream that ended cleanly before the vendor's end marker (retryable);
    ``chunks``: how many chunks had arrived."""
    detail = f" ({why})" if why else ""
    after = "" if chunks is None else f" after {chunks} chunk{'s' * (chunks != 1)}"
    return ProviderUnavailable(f"{provider} ended the stream{after} without its end marker"
                               f"{detail}: the answer is incomplete (the server closed it "
                               "early or the stream was truncated); retry the request.",
                               provider=provider)


def _source_ended(provider: str, exc: Exception, chunks: int,
                  skips: Skips) -> InsightForgeError:
    """Why the line source stopped: its end (no end marker came), our error, or the HTTP
    stack's failure (a cut, a stall; :func:`~providers._failures.mid_stream`)."""
    if isinstance(exc, (StopIteration, StopAsyncIteration)):
        return skips.ended_early(chunks)
    if isinstance(exc, InsightForgeError):
        return exc
    return mid_stream(provider, exc, chunks)


class Skips:
    """Undecodable events skipped in one stream (``enabled``: the provider's
    ``malformed_events='skip'``); :meth:`events` is what the final response's trace says."""

    __slots__ = ("count", "enabled", "provider")

    def __init__(self, provider: str, enabled: bool) -> None:
        self.provider = provider
        self.enabled = enabled
        self.count = 0

    def feed(self, decoder: StreamDecoder, line: str) -> list[Chunk]:
        """``decoder.feed(line)``, with a malformed line skipped when enabled."""
        try:
            return decoder.feed(line)
        except MalformedResponse:
            if not self.enabled:
                raise
            self.count += 1
            return []

    def ended_early(self, chunks: int | None = None) -> InsightForgeError:
        """The error for lines that ran out before the end marker (``chunks``: how many
        had arrived)."""
        if self.count:
            return MalformedResponse(f"{self.provider} sent a stream we could not read "
                                     f"({self.count} undecodable event(s), then no end "
                                     "marker); retry or check base_url.",
                                     provider=self.provider)
        return truncated(self.provider, chunks=chunks)

    def events(self) -> tuple[TraceEvent, ...]:
        if not self.count:
            return ()
        return (TraceEvent("stream", "skipped", f"{self.provider} sent {self.count} "
                           "undecodable stream event(s); skipped (malformed_events='skip')",
                           {"provider": self.provider, "count": self.count}),)


class _Feed:
    """One stream's decoding, sans I/O: lines in, chunks out, chunks counted; what
    :func:`drive` and :func:`adrive` share."""

    __slots__ = ("chunks", "decoder", "provider", "skips")

    def __init__(self, provider: str, decoder: StreamDecoder, skips: Skips | None) -> None:
        self.provider, self.decoder = provider, decoder
        self.skips = skips or Skips(provider, False)
        self.chunks = 0

    def step(self, line: str) -> list[Chunk]:
        """The chunks of one line; a decoding error leaves without its chain."""
        try:
            out = self.skips.feed(self.decoder, line)
        except InsightForgeError as err:
            error = err
        else:
            self.chunks += len(out)
            return out
        raise detach(error)

    def ended(self, exc: Exception) -> InsightForgeError:
        """Why the line source stopped (its end, a cut, a stall), chunks counted."""
        return _source_ended(self.provider, exc, self.chunks, self.skips)


def drive(provider: str, lines: Lines, decoder: StreamDecoder,
          skips: Skips | None = None) -> Iterator[Chunk]:
    """Chunks from ``lines`` through ``decoder``; a missing end marker raises; a malformed
    line is skipped when ``skips`` says so.

    A failure of the line source (the HTTP stack) is mapped here, where the number of
    chunks delivered is known; a bug in the decoder surfaces as itself. Errors leave
    without the HTTP stack's exception chain (:func:`~providers._errors.detach`).
    """
    feed, source = _Feed(provider, decoder, skips), iter(lines)
    while not decoder.done:
        try:
            line = next(source)
        except Exception as exc:
            error = feed.ended(exc)
            break
        yield from feed.step(line)
    else:
        return
    raise detach(error)


async def adrive(provider: str, lines: AsyncIterator[str], decoder: StreamDecoder,
                 skips: Skips | None = None) -> AsyncIterator[Chunk]:
    """The async twin of :func:`drive`."""
    feed, source = _Feed(provider, decoder, skips), aiter(lines)
    while not decoder.done:
        try:
            line = await anext(source)
        except Exception as exc:
            error = feed.ended(exc)
            break
        for chunk in feed.step(line):
            yield chunk
    else:
        return
    raise detach(error)
