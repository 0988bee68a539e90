"""The lean path for a plain (not streamed) OpenAI-wire chat answer.

The openai SDK spends more CPU per call than the HTTP exchange itself (building its request
options, URL and headers, its auth and retry wrappers, its response wrapper: about half of
a call to a local server, measured by bench/gateway.py's CPU figures). For a plain chat
answer none of that is needed: :func:`post` and :func:`apost` send the body through the
SDK client's **own** httpx2 client (the one the provider hands it as ``http_client``, so one
pool, one timeout, one set of limits serve both paths) with the headers the SDK would send
(its ``default_headers``: user agent, organisation, platform; and the bearer credential),
and :func:`read` turns the answer into what ``client.post(..., cast_to=object)`` returns
— the JSON value, or the text of a non-JSON body — or raises what the SDK path raises:
an HTTP error answer maps through the same :func:`~providers._errors.error_from_status`
(statuses, ``Retry-After``, context-length and content-filter bodies), undecodable JSON is
a ``MalformedResponse``; transport failures leave through the caller's SDK wrapper and
:func:`~providers._openai_wire.map_error` as before (``Timeout``, ``ProviderUnavailable``).

What must not live here: streams, embeddings, Azure (its URLs and credentials are the
SDK's business), mapping of the answer itself (:mod:`providers._openai_wire`).
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable
from typing import Any

from insightforge._json import compiled
from providers._errors import error_from_status
from providers._openai_wire import malformed

__all__ = ["apost", "post", "read"]

_headers: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _headers_of(sdk: Any, key: str) -> dict[str, str]:
    """The SDK client's fixed headers and the credential, read once per SDK client."""
    found = _headers.get(sdk)
    if found is None:
        found = {name: value for name, value in sdk.default_headers.items()
                 if isinstance(value, str)}  # not the SDK's "omit" markers
        found["Authorization"] = f"Bearer {key}"
        with _lock:
            _headers[sdk] = found
    return found


def _url(sdk: Any, path: str) -> str:
    return str(sdk.base_url).rstrip("/") + path


def read(provider: str, response: Any) -> Any:
    """What ``client.post(path, cast_to=object)`` would return for ``response`` (an httpx2
    response), or the error the SDK path would raise for it."""
    return _decoded(provider, response.status_code, response.headers, response.content,
                    lambda: response.text)


def _decoded(provider: str, status: int, headers: Any, content: bytes,
             text: Callable[[], str]) -> Any:
    if status >= 400:
        raise error_from_status(provider, status, text(), headers)
    kind = headers.get("content-type", "*").split(";")[0]
    if not kind.endswith("json"):
        return text()
    try:
        return json.loads(content)
    except ValueError as exc:  # includes UnicodeDecodeError
        error = malformed(provider, "a body", exc)
    raise error


def _text(headers: Any, content: bytes) -> str:
    """The body as text: its declared charset, else UTF-8 (what httpx2 decodes a JSON or
    error body with), undecodable bytes replaced."""
    charset = headers.get("content-type", "").partition("charset=")[2].split(";")[0].strip()
    try:
        return content.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return content.decode("utf-8", errors="replace")


def _body(data: Any) -> bytes:
    return _encode(data).encode()


_encode = compiled(json.JSONEncoder(separators=(",", ":"), ensure_ascii=False))
"""``json.dumps(data, separators=(",", ":"), ensure_ascii=False)`` with the C encoder made
once (a request body is built from a checked request: acyclic)."""


def post(provider: str, sdk: Any, key: str, path: str, body: Any) -> Any:
    """POST ``body`` as JSON through ``sdk``'s httpx2 client; see :func:`read`."""
    response = sdk._client.post(_url(sdk, path), content=_body(body),
                                headers=_headers_of(sdk, key))
    return read(provider, response)


async def apost(provider: str, sdk: Any, key: str, path: str, body: Any) -> Any:
    """The async twin of :func:`post`. Over the aiohttp transport (and no proxy), straight
    to its session: httpx2's request and response objects cost as much CPU as the
    exchange itself (:mod:`providers._aiohttp`)."""
    client = sdk._client
    direct = getattr(client._transport, "post_bytes", None)  # providers._aiohttp
    if direct is not None and not client._mounts:
        status, headers, content = await direct(
            _url(sdk, path), _body(body), _headers_of(sdk, key), client.timeout)
        return _decoded(provider, status, headers, content, lambda: _text(headers, content))
    response = await client.post(_url(sdk, path), content=_body(body),
                                 headers=_headers_of(sdk, key))
    return read(provider, response)
