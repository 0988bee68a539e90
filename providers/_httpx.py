"""The I/O half of every httpx-based provider: pooled clients, mapped sends, line readers.

What lives here:

* :class:`HttpxProvider` — :class:`~providers._base.BaseProvider` plus one pooled
  ``httpx.Client`` for the provider's life and one ``httpx.AsyncClient`` per running event
  loop (an async client cannot outlive its loop), both created lazily with finite timeouts
  and connection limits, closed by ``close``/``aclose``.
* Mapped sends: ``_send_json``/``_asend_json`` (one JSON answer) and
  ``_open_lines``/``_aopen_lines`` (a streamed answer, read line by line). Every httpx
  failure and every HTTP error answer leaves here as an error of the hierarchy, through
  the tables in :mod:`providers._errors` and :mod:`providers._failures` (anything else
  the HTTP stack raises is ``ProviderUnavailable`` with its cause chained; a programming
  error surfaces as itself). A failure while a stream is read is mapped by
  :func:`drive`/:func:`adrive`, which know how many chunks had arrived.
* The pure line readers (:func:`decode_json`, :class:`SSEDecoder`, :func:`ndjson_object`,
  :func:`drive`/:func:`adrive`) live in :mod:`providers._lines` and are re-exported here.

What must not live here: parsing (:mod:`providers._lines`) or any vendor's wire format
(the provider's ``_*_wire`` module, pure and unit-tested without sockets).

``httpx`` is imported with this module — that is, when a provider class built on it is
first touched (``providers`` loads each provider lazily, so ``import insightforge`` and
``import providers`` stay light) and always before any instance exists. Never on a request
thread: a module being imported there is seen half-initialised by other threads that read
``sys.modules`` directly (the openai SDK does, on every request; issue 12).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx

from insightforge.errors import InsightForgeError
from insightforge.types import Chunk
from providers._base import LazyClient, PerLoop, PooledProvider
from providers._deadlines import StreamLimits, call_limits, restore_read_timeout, within
from providers._errors import detach, error_from_status
from providers._failures import error_from_transport, unexpected
from providers._lines import (
    Skips,
    SSEDecoder,
    SSEEvent,
    StreamDecoder,
    adrive,
    decode_json,
    drive,
    ndjson_object,
    truncated,
)
from providers._watch import aguard, guard, shutdown

__all__ = ["HttpxProvider", "LineStream", "SSEDecoder", "SSEEvent", "Skips", "StreamDecoder",
           "adrive", "decode_json", "drive", "ndjson_object", "truncated"]

class LineStream:
    """An open streamed answer: its text lines, a ``close`` for the connection, and what
    reading it needs — the call's stream limits, when it was sent, how to interrupt a
    blocked read, and the skipped-event counter."""

    __slots__ = ("close", "interrupt", "limits", "lines", "skips", "started")

    def __init__(self, lines: Any, close: Callable[[], Any], *,
                 limits: StreamLimits | None = None, started: float = 0.0,
                 interrupt: Callable[[], None] | None = None,
                 skips: Skips | None = None) -> None:
        self.lines = lines
        self.close = close
        self.limits = limits or StreamLimits()
        self.started = started
        self.interrupt = interrupt or (lambda: None)
        self.skips = skips


class HttpxProvider(PooledProvider):
    """A provider speaking HTTP through httpx (see the module docstring).

    Subclasses set the class attributes of :class:`BaseProvider`, override
    :meth:`_headers` (credentials and fixed headers) and call the mapped send helpers.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sync: LazyClient[httpx.Client] = LazyClient(self._new_client)
        self._async: PerLoop[httpx.AsyncClient] = PerLoop(self._new_async_client,
                                                          lambda client: client.aclose(),
                                                          self.max_connections)

    def _headers(self) -> dict[str, str]:
        """Headers sent with every request (override to add the credential)."""
        return {"accept": "application/json", "user-agent": "insightforge"}

    def _client_options(self, connections: int | None = None) -> dict[str, Any]:
        size = self.max_connections if connections is None else connections
        return {
            "base_url": self.base_url,
            "headers": self._headers(),
            "timeout": httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            "limits": httpx.Limits(max_connections=size, max_keepalive_connections=size),
            "follow_redirects": False,
        }

    def _new_client(self) -> httpx.Client:
        return httpx.Client(**self._client_options())

    def _new_async_client(self, connections: int | None = None) -> httpx.AsyncClient:
        """An async client; ``connections``: its pool's size (one shard of
        ``max_connections``: :func:`~providers._base.shard_sizes`)."""
        return httpx.AsyncClient(**self._client_options(connections))

    def _aclient(self) -> httpx.AsyncClient:
        return self._async.get()

    # -- mapping ------------------------------------------------------------------------
    def _map(self, exc: BaseException) -> InsightForgeError:
        return error_from_transport(self.name, exc)

    def _status_error(self, response: httpx.Response) -> InsightForgeError:
        return error_from_status(self.name, response.status_code, response.content,
                                 dict(response.headers))

    def _sent(self, send: Callable[[], httpx.Response]) -> httpx.Response:
        """``send()``'s response; an httpx failure leaves mapped, with no exception chain."""
        try:
            return send()
        except httpx.HTTPError as exc:
            error: InsightForgeError = self._map(exc)
        except Exception as exc:  # not httpx's own: typed with its cause, or a bug as itself
            error = unexpected(self.name, exc)
        raise detach(error)

    async def _asent(self, send: Awaitable[httpx.Response]) -> httpx.Response:
        try:
            return await send
        except httpx.HTTPError as exc:
            error: InsightForgeError = self._map(exc)
        except Exception as exc:
            error = unexpected(self.name, exc)
        raise detach(error)

    # -- one JSON answer ----------------------------------------------------------------
    def _send_json(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self._sent(lambda: self._sync.get().request(method, path, json=body))
        if response.status_code >= 400:
            raise self._status_error(response)
        return decode_json(self.name, response.content)

    async def _asend_json(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = await self._asent(self._aclient().request(method, path, json=body))
        if response.status_code >= 400:
            raise self._status_error(response)
        return decode_json(self.name, response.content)

    # -- a streamed answer, line by line ------------------------------------------------
    def _skips(self) -> Skips:
        return Skips(self.name, self.malformed_events == "skip")

    def _open_lines(self, path: str, body: Any) -> LineStream:
        """POST and open the answer; status errors raise here, before any chunk. The
        header wait ends at the first-token limit when it is the shorter."""
        client = self._sync.get()  # made before the clock starts: not the provider's time
        limits, started = call_limits(), time.monotonic()
        head = limits.head(self.timeout)
        extra: dict[str, Any] = {} if head is None else {
            "timeout": httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0), read=head)}
        try:
            response = self._sent(lambda: client.send(
                client.build_request("POST", path, json=body, **extra), stream=True))
        except InsightForgeError as err:
            error = limits.first_token_error(err, self.name, head)
        else:
            if head is not None:
                restore_read_timeout(response, self.timeout)
            return self._lines_of(response, limits, started)
        raise detach(error)

    def _lines_of(self, response: httpx.Response, limits: StreamLimits,
                  started: float) -> LineStream:
        if response.status_code >= 400:
            try:
                response.read()
            except httpx.HTTPError:
                pass
            finally:
                response.close()
            raise self._status_error(response)

        def lines() -> Iterator[str]:  # a failure here is mapped by drive(), chunks counted
            try:
                yield from response.iter_lines()
            finally:
                response.close()

        return LineStream(lines(), response.close, limits=limits, started=started,
                          interrupt=shutdown(response), skips=self._skips())

    async def _aopen_lines(self, path: str, body: Any) -> LineStream:
        client = self._aclient()  # made before the clock starts: not the provider's time
        limits, started = call_limits(), time.monotonic()
        response = await within(self._asent(client.send(
            client.build_request("POST", path, json=body), stream=True)), limits, self.name,
            started)
        if response.status_code >= 400:
            try:
                await response.aread()
            except httpx.HTTPError:
                pass
            finally:
                await response.aclose()
            raise self._status_error(response)

        async def lines() -> AsyncIterator[str]:  # failures: mapped by adrive()
            try:
                async for line in response.aiter_lines():
                    yield line
            finally:
                await response.aclose()

        return LineStream(lines(), response.aclose, limits=limits, started=started,
                          skips=self._skips())

    def _chunks(self, opened: LineStream, decoder: StreamDecoder) -> Iterator[Chunk]:
        """The chunks of an opened stream: decoded, malformed events skipped as configured,
        under the call's first-token and stall limits."""
        return guard(drive(self.name, opened.lines, decoder, opened.skips), opened.limits,
                     provider=self.name, started=opened.started, interrupt=opened.interrupt)

    def _achunks(self, opened: LineStream, decoder: StreamDecoder) -> AsyncIterator[Chunk]:
        """The async twin of :meth:`_chunks`."""
        return aguard(adrive(self.name, opened.lines, decoder, opened.skips), opened.limits,
                      provider=self.name, started=opened.started)

    # -- life -----------------------------------------------------------------------------
