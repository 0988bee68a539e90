"""The OpenAI endpoints: ``/v1/chat/completions`` (JSON and SSE), ``/v1/embeddings``,
``/v1/models``.

Each endpoint reads the body (bounded), checks the key, parses the OpenAI JSON
(:mod:`.wire`), routes and calls the stack (:func:`.exchange.call`) and renders the answer
(:mod:`.replies`). Every error is an OpenAI error body. What must not live here: the
mapping itself (pure modules), sockets, the access log (:mod:`.edge`).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from insightforge._json import compiled
from insightforge.gateway import replies, wire
from insightforge.gateway.auth import Caller, Unauthorized, token_of
from insightforge.gateway.body import HTTPRefusal, parse_json, read_body
from insightforge.gateway.core import Gateway
from insightforge.gateway.exchange import Exchange, call, log_unexpected, new_id, stream_model
from insightforge.gateway.sse import SSEResponse
from insightforge.streams import AsyncChatStream
from insightforge.types import ChatResponse, EmbedResponse

__all__ = ["chat", "dumps", "embeddings", "error_response", "model", "models", "problem_body"]


def dumps(data: Any) -> bytes:
    """Compact JSON (UTF-8 kept) of an answer the gateway built (acyclic by construction)."""
    return _encode(data).encode()


_encode = compiled(json.JSONEncoder(separators=(",", ":"), ensure_ascii=False))


class _JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content)


def problem_body(problem: HTTPRefusal) -> dict[str, Any]:
    kind = "invalid_request_error" if problem.status < 500 else "server_error"
    if problem.status == 401:
        kind = "authentication_error"
    return {"error": {"message": problem.message, "type": kind, "param": None,
                      "code": problem.code}}


def error_response(exc: BaseException, exchange: Exchange) -> Response:
    """The OpenAI error answer for ``exc`` (noted on the exchange)."""
    if isinstance(exc, Unauthorized):
        exc = HTTPRefusal(401, f"{exc}", "invalid_api_key",
                          (("WWW-Authenticate", 'Bearer realm="insightforge"'),))
    if isinstance(exc, HTTPRefusal):
        exchange.error = exchange.error or f"http_{exc.status}"
        return _JSON(problem_body(exc), exc.status, dict(exc.headers))
    exchange.failed(exc)
    log_unexpected(exc)
    reply = replies.error_reply(exc)
    return _JSON(reply.body, reply.status, dict(reply.headers))


def exchange_of(request: Request) -> Exchange:
    found = request.scope.get("insightforge.exchange")
    return found if isinstance(found, Exchange) else Exchange(new_id(), "direct")


async def _begin(request: Request, exchange: Exchange) -> tuple[Gateway, Caller, Any]:
    gateway: Gateway = request.app.state.gateway
    caller = await gateway.caller(token_of(request.headers))
    exchange.caller(caller)
    raw = await read_body(request.receive, gateway.settings.max_body_bytes)
    return gateway, caller, parse_json(raw, gateway.settings.max_json_depth)


def _meta(response: ChatResponse | EmbedResponse) -> dict[str, str]:
    out = {"X-InsightForge-Provider": response.provider,
           "X-InsightForge-Cached": "true" if response.cached else "false"}
    if response.cost_usd is not None:
        out["X-InsightForge-Cost-USD"] = str(response.cost_usd)
    return out


async def chat(request: Request) -> Response:
    """``POST /v1/chat/completions``."""
    exchange = exchange_of(request)
    try:
        gateway, caller, body = await _begin(request, exchange)
        parsed = wire.parse_chat(body, request.headers.items())
        result = await call(gateway, exchange, caller, parsed, body.get("model"))
        rid, created = f"chatcmpl-{new_id()}", int(time.time())
        if isinstance(result, AsyncChatStream):
            events = _events(result, exchange, id=rid, created=created,
                             model=stream_model(result, exchange.model or ""),
                             include_usage=wire.wants_usage(body))
            return SSEResponse(events, result, [])  # type: ignore[return-value]
        if not isinstance(result, ChatResponse):
            raise TypeError(f"the stack answered a chat request with {type(result).__name__}")
        exchange.answered(result)
        return _JSON(replies.chat_json(result, id=rid, created=created), 200, _meta(result))
    except Exception as exc:
        return error_response(exc, exchange)


async def _events(stream: AsyncChatStream, exchange: Exchange, *, id: str, created: int,
                  model: str, include_usage: bool) -> AsyncGenerator[bytes, None]:
    """Each chunk names the model producing it now (a mid-stream failover changes it); the
    usage chunk names the model that finished the answer, with that model's usage."""
    first = True
    try:
        async for chunk in stream:
            data = replies.chunk_json(chunk, id=id, model=stream_model(stream, model),
                                      created=created, first=first)
            if data is not None:
                first = False
                yield b"data: " + dumps(data) + b"\n\n"
        response = stream.response
        exchange.answered(response)
        if include_usage:
            yield b"data: " + dumps(replies.usage_chunk_json(
                response.usage, id=id, model=response.model or model,
                created=created)) + b"\n\n"
    except Exception as exc:
        exchange.failed(exc)
        log_unexpected(exc)
        yield b"data: " + dumps(replies.error_reply(exc).body) + b"\n\n"
        return
    yield b"data: [DONE]\n\n"


async def embeddings(request: Request) -> Response:
    """``POST /v1/embeddings``."""
    exchange = exchange_of(request)
    try:
        gateway, caller, body = await _begin(request, exchange)
        parsed = wire.parse_embed(body, request.headers.items())
        result = await call(gateway, exchange, caller, parsed, body.get("model"))
        if not isinstance(result, EmbedResponse):
            raise TypeError(f"the stack answered an embed request with {type(result).__name__}")
        exchange.answered(result)
        return _JSON(replies.embed_json(result, encoding=wire.embed_encoding(body)), 200,
                     _meta(result))
    except Exception as exc:
        return error_response(exc, exchange)


def _listing(gateway: Gateway, caller: Caller, anthropic: bool) -> dict[str, Any]:
    items = gateway.listing(caller)
    if anthropic:
        data = [{"type": "model", "id": name, "display_name": name,
                 "created_at": "1970-01-01T00:00:00Z"} for name, _ in items]
        return {"data": data, "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None}
    return {"object": "list", "data": [{"id": name, "object": "model", "created": 0,
                                        "owned_by": owner} for name, owner in items]}


async def models(request: Request) -> Response:
    """``GET /v1/models``: what the caller's key may ask for (Anthropic's shape when the
    client sends ``anthropic-version``)."""
    exchange = exchange_of(request)
    try:
        gateway: Gateway = request.app.state.gateway
        caller = await gateway.caller(token_of(request.headers))
        exchange.caller(caller)
        anthropic = "anthropic-version" in request.headers
        return _JSON(_listing(gateway, caller, anthropic))
    except Exception as exc:
        return error_response(exc, exchange)


async def model(request: Request) -> Response:
    """``GET /v1/models/{id}``."""
    exchange = exchange_of(request)
    try:
        gateway: Gateway = request.app.state.gateway
        caller = await gateway.caller(token_of(request.headers))
        name = request.path_params["name"]
        anthropic = "anthropic-version" in request.headers
        for item in _listing(gateway, caller, anthropic)["data"]:
            if item["id"] == name:
                return _JSON(item)
        raise HTTPRefusal(404, f"The model {name!r} does not exist on this gateway; see "
                          "GET /v1/models", "model_not_found")
    except Exception as exc:
        return error_response(exc, exchange)
