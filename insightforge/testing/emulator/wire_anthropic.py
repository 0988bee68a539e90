"""The Anthropic Messages API wire format.

What lives here: parsing of `POST /v1/messages` (system as str or blocks; content as str or
blocks including `tool_use` / `tool_result`; `tools` with `input_schema`; `tool_choice`;
`stop_sequences`), the `message` body, the SSE event sequence (message_start,
content_block_start, ping, content_block_delta, content_block_stop, message_delta,
message_stop), the model list and the error body
``{"type": "error", "error": {"type", "message"}}``. Pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .replies import ChatInput, Reply, Turn, filtered, make_reply, stream_pieces
from .wire_common import (
    CREATED_AT,
    ApiError,
    Body,
    Call,
    Stream,
    StreamFaults,
    json_body,
    req_str,
    sse,
    stops_of,
    text_of,
)

__all__ = ["STREAM_FAULTS", "chat", "error_body", "message_body", "models", "parse_chat"]

MODELS = ("claude-3-5-haiku-latest", "claude-sonnet-4-5", "claude-opus-4-1")
SSE_TYPE = "text/event-stream"
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
         "content_filter": "refusal"}
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                429: "rate_limit_error", 529: "overloaded_error"}


def stop_reason(reply: Reply) -> str:
    """Anthropic's `stop_reason` for a reply."""
    return "stop_sequence" if reply.stop_sequence is not None else _STOP[reply.finish]


def error_type(status: int) -> str:
    """Anthropic's error type for an HTTP status."""
    default = "api_error" if status >= 500 else "invalid_request_error"
    return _ERROR_TYPES.get(status, default)


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """Anthropic's error shape for `status`."""
    return {"type": "error", "error": {"type": error_type(status), "message": message}}


def _stream_error(kind: str, message: str) -> bytes:
    return sse({"type": "error", "error": {"type": kind, "message": message}}, "error")


STREAM_FAULTS = StreamFaults(
    error=_stream_error,
    malformed=b'event: content_block_delta\ndata: {"type": "content_block_delta", "ind\n\n',
    wrong_shape=sse({"unexpected": True}, "message_start"),
    end=(sse({"type": "message_stop"}, "message_stop"),),
)


# -- requests ---------------------------------------------------------------------------


def _turn(message: Any) -> Turn:
    if not isinstance(message, Mapping) or message.get("role") not in ("user", "assistant"):
        raise ApiError(400, "messages: each message needs role 'user' or 'assistant'")
    content = message.get("content")
    is_result = isinstance(content, list) and any(
        isinstance(block, Mapping) and block.get("type") == "tool_result" for block in content
    )
    return Turn("tool" if is_result else str(message["role"]), text_of(content))


def _tools(body: Mapping[str, Any]) -> tuple[str, ...]:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise ApiError(400, "tools: must be a list")
    names = []
    for tool in tools:
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            raise ApiError(400, "tools: each tool needs a name")
        names.append(str(tool["name"]))
    return tuple(names)


def _max_tokens(body: Mapping[str, Any]) -> int:
    value = body.get("max_tokens")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "max_tokens: Field required")
    return value


def parse_chat(body: Mapping[str, Any]) -> ChatInput:
    """A Messages request as a `ChatInput` (the system prompt becomes the first turn)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages: Field required (a non-empty list)")
    system = body.get("system")
    turns = ((Turn("system", text_of(system)),) if system else ()) + tuple(
        _turn(message) for message in messages
    )
    choice = body.get("tool_choice")
    choice = choice if isinstance(choice, Mapping) else {}
    return ChatInput(
        model=req_str(body, "model"),
        turns=turns,
        max_tokens=_max_tokens(body),
        stop=stops_of(body.get("stop_sequences")),
        tools=_tools(body),
        tool_choice_none=choice.get("type") == "none",
        forced_tool=choice.get("name") if choice.get("type") == "tool" else None,
    )


# -- responses --------------------------------------------------------------------------


def _content(reply: Reply, number: int) -> list[dict[str, Any]]:
    if reply.tool_call is None:
        return [{"type": "text", "text": reply.text}]
    arguments = json.loads(reply.tool_call.arguments)
    return [{"type": "tool_use", "id": f"toolu_emu_{number}", "name": reply.tool_call.name,
             "input": arguments}]


def _message(reply: Reply, model: str, number: int, content: list[Any]) -> dict[str, Any]:
    return {
        "id": f"msg_emu_{number}", "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1},
    }


def message_body(reply: Reply, model: str, number: int) -> Body:
    """A `message` object."""
    message = _message(reply, model, number, _content(reply, number))
    message["stop_reason"] = stop_reason(reply)
    message["stop_sequence"] = reply.stop_sequence
    message["usage"]["output_tokens"] = reply.output_tokens
    return json_body(message)


def _delta(delta: dict[str, Any]) -> bytes:
    return sse({"type": "content_block_delta", "index": 0, "delta": delta},
               "content_block_delta")


def message_stream(reply: Reply, model: str, number: int) -> Stream:
    """The SSE events of a streamed message."""
    block: dict[str, Any] = {"type": "text", "text": ""}
    if reply.tool_call is None:
        content = [_delta({"type": "text_delta", "text": p}) for p in stream_pieces(reply.text)]
    else:
        block = {**_content(reply, number)[0], "input": {}}
        content = [_delta({"type": "input_json_delta", "partial_json": piece})
                   for piece in stream_pieces(reply.tool_call.arguments)]
    start = {"type": "message_start", "message": _message(reply, model, number, [])}
    head = (
        sse(start, "message_start"),
        sse({"type": "content_block_start", "index": 0, "content_block": block},
            "content_block_start"),
        sse({"type": "ping"}, "ping"),
    )
    stop = {"stop_reason": stop_reason(reply), "stop_sequence": reply.stop_sequence}
    tail = (
        sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        sse({"type": "message_delta", "delta": stop,
             "usage": {"output_tokens": reply.output_tokens}}, "message_delta"),
        sse({"type": "message_stop"}, "message_stop"),
    )
    return Stream(head, tuple(content), tail, SSE_TYPE, STREAM_FAULTS)


# -- endpoints --------------------------------------------------------------------------


def chat(call: Call) -> Body | Stream:
    """POST /v1/messages (requires the `anthropic-version` header)."""
    if not call.headers.get("anthropic-version"):
        raise ApiError(400, "anthropic-version: header is required")
    body = call.json()
    request = parse_chat(body)
    reply = make_reply(request)
    if call.filtered:
        reply = filtered(reply)
    number = call.next_id()
    if body.get("stream") is True:
        return message_stream(reply, request.model, number)
    return message_body(reply, request.model, number)


def models(call: Call) -> Body:
    """GET /v1/models, Anthropic's shape."""
    data = [{"type": "model", "id": name, "display_name": name, "created_at": CREATED_AT}
            for name in MODELS]
    return json_body({"data": data, "has_more": False, "first_id": MODELS[0],
                      "last_id": MODELS[-1]})
