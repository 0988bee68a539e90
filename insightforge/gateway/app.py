"""The gateway's application: an HTTP request (method, path, headers, body) in, a reply out.

What lives here: :class:`Gateway` — routing, the gateway API-key check, JSON decoding,
calling the stack's sync path, and turning a :class:`~insightforge.ChatStream` into SSE
events (:func:`sse_events`). Replies are values (:class:`Reply`, :class:`StreamReply`), so
the HTTP server (:mod:`.server`) only writes bytes.

What must not live here: sockets and threads (:mod:`.server`), the OpenAI JSON mapping
(:mod:`.wire`, :mod:`.replies`).

Routes: ``GET /healthz`` (no key needed), ``GET /v1/models``, ``GET /v1/models/<id>``,
``POST /v1/chat/completions``, ``POST /v1/embeddings``.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import traceback
import uuid
from collections.abc import Generator, Iterable
from typing import Any

import attrs

from insightforge.gateway import replies, wire
from insightforge.secrets import Secret, scrub
from insightforge.stack import Handler
from insightforge.streams import ChatStream
from insightforge.types import ChatResponse, EmbedResponse

__all__ = ["Gateway", "Reply", "StreamReply", "sse_events"]

log = logging.getLogger("insightforge.gateway")
Headers = Iterable[tuple[str, str]]


@attrs.frozen
class Reply:
    """A complete JSON answer. Attributes: status, body (JSON-able), headers."""

    status: int
    body: Any
    headers: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class StreamReply:
    """A ``text/event-stream`` answer.

    Attributes:
        stream: the stack's stream; the server must ``close()`` it when it stops writing.
        events: the SSE events to write, as bytes.
    """

    stream: ChatStream
    events: Generator[bytes, None, None]

    def close(self) -> None:
        """Stop: closes the event generator and the upstream stream (idempotent)."""
        try:
            self.events.close()
        finally:
            self.stream.close()


def _sse(data: Any) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def sse_events(stream: ChatStream, *, id: str, model: str, created: int,
               include_usage: bool) -> Generator[bytes, None, None]:
    """The SSE events for ``stream``: chunks, the usage chunk if asked, ``[DONE]``.

    A failure mid-stream becomes an ``{"error": ...}`` event (the status is already sent).
    """
    first = True
    try:
        for chunk in stream:
            data = replies.chunk_json(chunk, id=id, model=model, created=created, first=first)
            if data is not None:
                first = False
                yield _sse(data)
        if include_usage:
            yield _sse(replies.usage_chunk_json(stream.response.usage, id=id, model=model,
                                                created=created))
    except Exception as exc:
        _log_unexpected(exc)
        yield _sse(replies.error_reply(exc).body)
        return
    yield b"data: [DONE]\n\n"


def _log_unexpected(exc: BaseException) -> None:
    from insightforge.errors import InsightForgeError

    if not isinstance(exc, InsightForgeError):
        log.error("gateway: unexpected error\n%s", scrub(traceback.format_exc()))


def _reply(error: replies.ErrorReply) -> Reply:
    return Reply(error.status, error.body, error.headers)


def _error(status: int, message: str, code: str | None = None,
           kind: str = "invalid_request_error") -> Reply:
    return Reply(status, {"error": {"message": message, "type": kind, "param": None,
                                    "code": code}})


_UNAUTHORIZED = attrs.evolve(
    _error(401, "Missing or wrong gateway API key: send `Authorization: Bearer <key>` with "
           "one of the keys the gateway was started with (`insightforge serve --api-key`).",
           "invalid_api_key"),
    headers=(("WWW-Authenticate", 'Bearer realm="insightforge"'),))
_POST = {"/v1/chat/completions": "chat", "/v1/embeddings": "embed"}


class Gateway:
    """The OpenAI-compatible front of a handler (a :class:`~insightforge.Stack`).

    Attributes:
        handler: what answers (called on its sync path, one call per HTTP request).
        routes: the handler's routes, read once; ``/v1/models`` lists their models.
    """

    def __init__(self, handler: Handler, *, api_keys: Iterable[str | Secret] = ()) -> None:
        self.handler = handler
        self.routes = handler.routes()
        self._keys = tuple(Secret(k) if isinstance(k, str) else k for k in api_keys)
        if any(not k for k in self._keys):
            raise ValueError("an empty gateway API key would accept anyone: give a real key")
        self._models = frozenset(r.model for r in self.routes)
        self._default_model = self.routes[0].model if self.routes else wire.DEFAULT_MODEL

    def authorized(self, authorization: str | None) -> bool:
        """True when no keys are set, or ``authorization`` is ``Bearer <one of the keys>``."""
        if not self._keys:
            return True
        scheme, _, token = (authorization or "").partition(" ")
        given = token.strip().encode() if scheme.lower() == "bearer" else b""
        ok = False
        for key in self._keys:  # compare against every key: no early exit to time
            ok |= hmac.compare_digest(given, key.reveal().encode())
        return ok and bool(given)

    def handle(self, method: str, path: str, headers: Headers, body: bytes) -> Reply | StreamReply:
        """Answer one HTTP request; never raises."""
        headers = list(headers)
        path = path.split("?", 1)[0].rstrip("/") or "/"
        if path == "/healthz":
            return Reply(200, {"status": "ok", "routes": len(self.routes)})
        if path.startswith("/v1/") and not self.authorized(_header(headers, "authorization")):
            return _UNAUTHORIZED
        if method == "GET" and path == "/v1/models":
            return Reply(200, replies.models_json(self.routes, default=wire.DEFAULT_MODEL))
        if method == "GET" and path.startswith("/v1/models/"):
            return self._model(path[len("/v1/models/"):])
        if path in _POST:
            if method != "POST":
                return attrs.evolve(_error(405, f"{path} takes POST"),
                                    headers=(("Allow", "POST"),))
            return self._call(_POST[path], headers, body)
        return _error(404, f"No route {method} {path}: the gateway serves /v1/chat/completions, "
                      "/v1/embeddings, /v1/models and /healthz", "not_found")

    def _model(self, name: str) -> Reply:
        for item in replies.models_json(self.routes, default=wire.DEFAULT_MODEL)["data"]:
            if item["id"] == name:
                return Reply(200, item)
        return _error(404, f"Model {name!r} is not served here; see GET /v1/models",
                      "model_not_found")

    def _call(self, kind: str, headers: list[tuple[str, str]], raw: bytes) -> Reply | StreamReply:
        try:
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"body: not valid JSON ({exc}); send a JSON object")
        try:
            if kind == "embed":
                return self._embed(body, headers)
            return self._chat(body, headers)
        except Exception as exc:
            _log_unexpected(exc)
            return _reply(replies.error_reply(exc))

    def _chat(self, body: Any, headers: list[tuple[str, str]]) -> Reply | StreamReply:
        request = wire.parse_chat(body, headers, stack_models=self._models)
        rid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        result = self.handler(request)
        if isinstance(result, ChatStream):
            try:
                result.prime()  # a failure before the first chunk still gets its status
            except BaseException:
                result.close()
                raise
            events = sse_events(result, id=rid, model=request.model or self._default_model,
                                created=created, include_usage=wire.wants_usage(body))
            return StreamReply(result, events)
        if not isinstance(result, ChatResponse):
            raise TypeError(f"the stack answered a chat request with {type(result).__name__}")
        return Reply(200, replies.chat_json(result, id=rid, created=created), _meta(result))

    def _embed(self, body: Any, headers: list[tuple[str, str]]) -> Reply:
        request = wire.parse_embed(body, headers, stack_models=self._models)
        result = self.handler(request)
        if not isinstance(result, EmbedResponse):
            raise TypeError(f"the stack answered an embed request with {type(result).__name__}")
        return Reply(200, replies.embed_json(result, encoding=wire.embed_encoding(body)),
                     _meta(result))


def _header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _meta(response: ChatResponse | EmbedResponse) -> tuple[tuple[str, str], ...]:
    out = [("X-InsightForge-Provider", response.provider),
           ("X-InsightForge-Cached", "true" if response.cached else "false")]
    if response.cost_usd is not None:
        out.append(("X-InsightForge-Cost-USD", str(response.cost_usd)))
    return tuple(out)
