"""The I/O half of every httpx-based provider: pooled clients, mapped sends, line readers.

What lives here:

* :class:`HttpxProvider` — :class:`~providers._base.BaseProvider` plus one pooled
  ``httpx.Client`` for the provider's life and one ``httpx.AsyncClient`` per running event
  loop (an async client cannot outlive its loop), both created lazily with finite timeouts
  and connection limits, closed by ``close``/``aclose``.
* Mapped sends: ``_send_json``/``_asend_json`` (one JSON answer) and
  ``_open_lines``/``_aopen_lines`` (a streamed answer, read line by line). Every httpx
  failure and every HTTP error answer leaves here as an error of the hierarchy, through
  the one table in :mod:`providers._errors`.
* :func:`decode_json` and :class:`SSEDecoder` / :func:`ndjson_object` — pure parsers.
* :func:`drive` / :func:`adrive` — feed lines to a pure stream decoder, yield chunks.

What must not live here: any vendor's wire format (that is the provider's ``_*_wire``
module, pure and unit-tested without sockets). ``httpx`` is imported lazily, so importing
this module costs nothing until a provider makes its first call.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from insightforge.errors import InsightForgeError, MalformedResponse, ProviderUnavailable
from insightforge.types import Chunk
from providers._base import BaseProvider, LazyClient, PerLoop
from providers._errors import error_from_status, error_from_transport

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpxProvider", "LineStream", "SSEDecoder", "SSEEvent", "StreamDecoder",
           "adrive", "decode_json", "drive", "ndjson_object", "truncated"]

Lines = Iterator[str]


# -- pure parsing -----------------------------------------------------------------------

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


def truncated(provider: str, why: str = "") -> ProviderUnavailable:
    """The error for a stream that ended before the vendor's end marker (retryable)."""
    detail = f" ({why})" if why else ""
    return ProviderUnavailable(f"{provider} ended the stream before its end marker{detail}: "
                               "the connection was cut or the stream truncated; retry the "
                               "request.", provider=provider)


def drive(provider: str, lines: Lines, decoder: StreamDecoder) -> Iterator[Chunk]:
    """Chunks from ``lines`` through ``decoder``; a missing end marker raises."""
    for line in lines:
        yield from decoder.feed(line)
        if decoder.done:
            return
    raise truncated(provider)


async def adrive(provider: str, lines: AsyncIterator[str],
                 decoder: StreamDecoder) -> AsyncIterator[Chunk]:
    """The async twin of :func:`drive`."""
    async for line in lines:
        for chunk in decoder.feed(line):
            yield chunk
        if decoder.done:
            return
    raise truncated(provider)


# -- I/O --------------------------------------------------------------------------------

class LineStream:
    """An open streamed answer: its text lines and a ``close`` for the connection."""

    __slots__ = ("close", "lines")

    def __init__(self, lines: Any, close: Callable[[], Any]) -> None:
        self.lines = lines
        self.close = close


class HttpxProvider(BaseProvider):
    """A provider speaking HTTP through httpx (see the module docstring).

    Subclasses set the class attributes of :class:`BaseProvider`, override
    :meth:`_headers` (credentials and fixed headers) and call the mapped send helpers.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sync: LazyClient[httpx.Client] = LazyClient(self._new_client)
        self._async: PerLoop[httpx.AsyncClient] = PerLoop(self._new_async_client,
                                                          lambda client: client.aclose())

    def _headers(self) -> dict[str, str]:
        """Headers sent with every request (override to add the credential)."""
        return {"accept": "application/json", "user-agent": "insightforge"}

    def _client_options(self) -> dict[str, Any]:
        import httpx

        return {
            "base_url": self.base_url,
            "headers": self._headers(),
            "timeout": httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            "limits": httpx.Limits(max_connections=self.max_connections,
                                   max_keepalive_connections=self.max_connections),
            "follow_redirects": False,
        }

    def _new_client(self) -> httpx.Client:
        import httpx

        return httpx.Client(**self._client_options())

    def _new_async_client(self) -> httpx.AsyncClient:
        import httpx

        return httpx.AsyncClient(**self._client_options())

    def _aclient(self) -> httpx.AsyncClient:
        return self._async.get()

    # -- mapping ------------------------------------------------------------------------
    def _map(self, exc: BaseException) -> InsightForgeError:
        return error_from_transport(self.name, exc)

    def _mid_stream(self, exc: BaseException) -> InsightForgeError:
        """A transport failure after the answer began: a timeout, or a cut stream."""
        import httpx

        if isinstance(exc, (httpx.TimeoutException, httpx.DecodingError)):
            return self._map(exc)
        return truncated(self.name, type(exc).__name__)

    def _status_error(self, response: httpx.Response) -> InsightForgeError:
        return error_from_status(self.name, response.status_code, response.content,
                                 dict(response.headers))

    # -- one JSON answer ----------------------------------------------------------------
    def _send_json(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        import httpx

        try:
            response = self._sync.get().request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise self._map(exc) from exc
        if response.status_code >= 400:
            raise self._status_error(response)
        return decode_json(self.name, response.content)

    async def _asend_json(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        import httpx

        try:
            response = await self._aclient().request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise self._map(exc) from exc
        if response.status_code >= 400:
            raise self._status_error(response)
        return decode_json(self.name, response.content)

    # -- a streamed answer, line by line ------------------------------------------------
    def _open_lines(self, path: str, body: Any) -> LineStream:
        """POST and open the answer; status errors raise here, before any chunk."""
        import httpx

        client = self._sync.get()
        try:
            response = client.send(client.build_request("POST", path, json=body), stream=True)
        except httpx.HTTPError as exc:
            raise self._map(exc) from exc
        if response.status_code >= 400:
            try:
                response.read()
            except httpx.HTTPError:
                pass
            finally:
                response.close()
            raise self._status_error(response)

        def lines() -> Iterator[str]:
            try:
                yield from response.iter_lines()
            except httpx.HTTPError as exc:
                raise self._mid_stream(exc) from exc
            finally:
                response.close()

        return LineStream(lines(), response.close)

    async def _aopen_lines(self, path: str, body: Any) -> LineStream:
        import httpx

        client = self._aclient()
        try:
            response = await client.send(client.build_request("POST", path, json=body),
                                         stream=True)
        except httpx.HTTPError as exc:
            raise self._map(exc) from exc
        if response.status_code >= 400:
            try:
                await response.aread()
            except httpx.HTTPError:
                pass
            finally:
                await response.aclose()
            raise self._status_error(response)

        async def lines() -> AsyncIterator[str]:
            try:
                async for line in response.aiter_lines():
                    yield line
            except httpx.HTTPError as exc:
                raise self._mid_stream(exc) from exc
            finally:
                await response.aclose()

        return LineStream(lines(), response.aclose)

    # -- life -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the sync client and, best-effort, the async ones (see :class:`PerLoop`)."""
        client = self._sync.take()
        if client is not None:
            client.close()
        self._async.close()

    async def aclose(self) -> None:
        """Close this loop's async client, then everything else."""
        await self._async.aclose()
        self.close()
