"""An aiohttp transport under the async httpx2 client of the OpenAI-wire providers.

Why: an httpx2 call spends most of its CPU in httpcore's pool and h11 (pure Python); the
same call over aiohttp (C-accelerated parser and connector) costs less than half (a chat
answer from the loopback emulator, one process, uvloop: 1.6-2.0 ms of CPU per call with
httpx2's own transport, 0.76-0.91 ms over this one). A gateway spends most of its CPU on
the upstream call, so it uses this transport by default; library users opt in with
``OpenAI(transport="aiohttp")``. The openai SDK offers the same choice
(``openai[aiohttp]``); its vendored transport maps a server that hangs up to
``ConnectTimeout``, which we would report as a ``Timeout`` — hence this one.

The httpx2 client above stays as it is (the SDK, our lean path, timeouts, headers, auth,
redirects, proxies from the environment through their own mounts); only the exchange
changes. What a failure becomes here, so that the callers' mapping
(:func:`providers._openai_wire.map_error`) says the same as over httpx2:

* a connect or pool-wait timeout -> ``httpx2.ConnectTimeout``; a read timeout ->
  ``ReadTimeout`` (both ``Timeout`` to the caller);
* no connection -> ``ConnectError``; a server that hangs up before or during the answer,
  or sends broken HTTP -> ``RemoteProtocolError``; any other socket error -> ``ReadError``
  while an answer is read, else ``NetworkError`` (all ``ProviderUnavailable``, or
  ``StreamInterrupted`` mid-stream).

The mapped exception carries aiohttp's words but no chain: aiohttp's exceptions hold the
request's headers (the credential).

What must not live here: anything about the OpenAI wire (:mod:`providers._openai_wire`).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import aiohttp
import httpx2

__all__ = ["AiohttpTransport"]


def _mapped(exc: BaseException, *, reading: bool) -> httpx2.TransportError:
    text = str(exc) or type(exc).__name__
    kind: type[httpx2.TransportError]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        kind = httpx2.ConnectTimeout
    elif isinstance(exc, (aiohttp.ServerTimeoutError, TimeoutError)):
        kind = httpx2.ReadTimeout
    elif isinstance(exc, aiohttp.ClientProxyConnectionError):
        kind = httpx2.ProxyError
    elif isinstance(exc, aiohttp.ClientConnectorError):
        kind = httpx2.ConnectError
    elif isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError,
                          aiohttp.ClientResponseError)):
        kind = httpx2.RemoteProtocolError
    elif isinstance(exc, aiohttp.InvalidURL):
        kind = httpx2.UnsupportedProtocol
    else:
        kind = httpx2.ReadError if reading else httpx2.NetworkError
    return kind(text)


@contextmanager
def _mapping(*, reading: bool = False) -> Iterator[None]:
    try:
        yield
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        error = _mapped(exc, reading=reading)
    else:
        return
    raise error from None


def _timeout(connect: float | None, read: float | None,
             pool: float | None) -> aiohttp.ClientTimeout:
    """httpx2's timeouts in aiohttp's terms (its ``connect`` includes the wait for a free
    connection, httpx2's ``pool``); no total, as in httpx2."""
    return aiohttp.ClientTimeout(total=None, connect=pool, sock_connect=connect,
                                 sock_read=read)


class _Body(httpx2.AsyncByteStream):
    """The answer's body as it arrives; closing it early drops the connection."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapping(reading=True):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        response = self._response
        if response.content.at_eof():
            response.release()  # the connection goes back to the pool
        else:
            response.close()  # half-read: the connection cannot be reused


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """httpx2's transport interface over one ``aiohttp.ClientSession``, made on first use
    inside the running loop (a session belongs to one loop, as the provider's async
    clients do: :class:`~providers._base.PerLoop`).

    Attributes:
        connections: the most connections at once (more requests wait, as in httpx2's pool,
            up to the ``pool`` timeout). keepalive: seconds an idle connection is kept.
    """

    def __init__(self, *, connections: int, keepalive: float | None = 5.0,
                 verify: ssl.SSLContext | bool = True) -> None:
        self.connections = connections
        self.keepalive = keepalive
        self._ssl = httpx2.create_ssl_context(verify=verify)
        self._session: aiohttp.ClientSession | None = None

    def _opened(self) -> aiohttp.ClientSession:
        """The session, made on first use (inside the running loop)."""
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self.connections, limit_per_host=0,
                                             keepalive_timeout=self.keepalive, ssl=self._ssl)
            session = self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"))
        return session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        session = self._opened()
        timeout: dict[str, float | None] = request.extensions.get("timeout", {})
        headers = request.headers.multi_items()
        try:
            body: Any = request.content or None
        except httpx2.RequestNotRead:  # a streamed body: aiohttp frames it itself
            body = request.stream
            headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
        with _mapping():
            response = await session.request(
                request.method, str(request.url), headers=headers,
                data=body, allow_redirects=False, compress=False,
                timeout=_timeout(timeout.get("connect"), timeout.get("read"),
                                 timeout.get("pool")),
                server_hostname=request.extensions.get("sni_hostname"))
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx2.Response(response.status, headers=response.raw_headers,
                               stream=_Body(response), request=request,
                               extensions=extensions)

    async def post_bytes(self, url: str, content: bytes, headers: Mapping[str, str],
                         timeout: httpx2.Timeout) -> tuple[int, Mapping[str, str], bytes]:
        """``(status, headers, body)`` of a POST, without httpx2's request and response
        objects (the lean chat path, :func:`providers._openai_lean.apost`): the same
        session, limits, timeouts and failures as :meth:`handle_async_request`; redirects
        followed and a compressed body decoded, as the SDK's client does."""
        with _mapping(reading=True):
            async with self._opened().post(
                    url, data=content, headers=headers, compress=False, auto_decompress=True,
                    timeout=_timeout(timeout.connect, timeout.read, timeout.pool)) as response:
                answer = response.status, response.headers, await response.read()
        return answer

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
