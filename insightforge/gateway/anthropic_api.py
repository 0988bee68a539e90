"""The Anthropic endpoint: ``POST /v1/messages`` (JSON and its SSE event stream).

Anthropic-SDK clients send their gateway key as ``x-api-key``; the request goes through the
same key check, model table, per-key layers and stack as an OpenAI request. Errors use
Anthropic's shape (``{"type": "error", "error": {"type", "message"}}``) with the same
statuses as the OpenAI endpoints; a budget refusal carries ``x-should-retry: false``, so the
SDK does not retry it. What must not live here: the mapping (:mod:`.anthropic_wire`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from starlette.requests import Request
from starlette.responses import Response

from insightforge.gateway import anthropic_wire as aw
from insightforge.gateway import replies
from insightforge.gateway.auth import Unauthorized, token_of
from insightforge.gateway.body import HTTPRefusal, parse_json, read_body
from insightforge.gateway.core import Gateway
from insightforge.gateway.exchange import Exchange, call, log_unexpected, new_id, stream_model
from insightforge.gateway.openai_api import _JSON, exchange_of
from insightforge.gateway.sse import SSEResponse
from insightforge.streams import AsyncChatStream
from insightforge.types import ChatResponse

__all__ = ["error_response", "messages"]


def error_response(exc: BaseException, exchange: Exchange) -> Response:
    """The Anthropic error answer for ``exc`` (noted on the exchange)."""
    if isinstance(exc, Unauthorized):
        exchange.error = "http_401"
        return _JSON(aw.error_body(401, str(exc)), 401)
    if isinstance(exc, HTTPRefusal):
        exchange.error = exchange.error or f"http_{exc.status}"
        return _JSON(aw.error_body(exc.status, exc.message), exc.status, dict(exc.headers))
    exchange.failed(exc)
    log_unexpected(exc)
    reply = replies.error_reply(exc)
    return _JSON(aw.error_body(reply.status, reply.body["error"]["message"]), reply.status,
                 dict(reply.headers))


async def messages(request: Request) -> Response:
    """``POST /v1/messages``."""
    exchange = exchange_of(request)
    try:
        gateway: Gateway = request.app.state.gateway
        caller = await gateway.caller(token_of(request.headers))
        exchange.caller(caller)
        raw = await read_body(request.receive, gateway.settings.max_body_bytes)
        body = parse_json(raw, gateway.settings.max_json_depth)
        parsed = aw.parse_messages(body)
        name = aw.check_model(body.get("model"))
        result = await call(gateway, exchange, caller, parsed, name)
        rid = f"msg_{new_id()}"
        if isinstance(result, AsyncChatStream):
            events = _events(result, exchange,
                             aw.StreamEvents(id=rid, model=stream_model(result, name)))
            return SSEResponse(events, result, [])  # type: ignore[return-value]
        if not isinstance(result, ChatResponse):
            raise TypeError(f"the stack answered a chat request with {type(result).__name__}")
        exchange.answered(result)
        return _JSON(aw.message_json(result, id=rid))
    except Exception as exc:
        return error_response(exc, exchange)


async def _events(stream: AsyncChatStream, exchange: Exchange,
                  events: aw.StreamEvents) -> AsyncGenerator[bytes, None]:
    for event in events.start():
        yield event
    try:
        async for chunk in stream:
            for event in events.chunk(chunk):
                yield event
        response = stream.response
        exchange.answered(response)
        for event in events.end(response):
            yield event
    except Exception as exc:
        exchange.failed(exc)
        log_unexpected(exc)
        reply = replies.error_reply(exc)
        yield aw.StreamEvents.error(reply.status, reply.body["error"]["message"])
