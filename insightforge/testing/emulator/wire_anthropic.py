"""The Anthropic Messages API wire format.

What lives here: the `message` body (a signed ``thinking`` block first when the model
reasoned, then text or several ``tool_use`` blocks; usage with ``cache_creation_input_tokens``
and its 5-minute/1-hour split and ``cache_read_input_tokens`` — Anthropic's
``input_tokens`` leave those out), the SSE event sequence (message_start with the input
usage, content_block_start, ping, content_block_delta — text, input_json, thinking and
signature deltas —, content_block_stop, message_delta with the output usage,
message_stop), the prompt cache accounting of ``cache_control`` breakpoints, the model list
and the error body ``{"type": "error", "error": {"type", "message"}}``. Requests are read
by :mod:`.anthropic_parse`. Pure functions.
"""

from __future__ import annotations

import json
from typing import Any

from .anthropic_parse import Breakpoint, parse_chat, parse_request
from .prompt_cache import NO_CACHE, CacheUse, PromptCache, account, digest
from .replies import ChatInput, Reply, filtered, input_tokens, make_reply, sign, stream_pieces
from .wire_common import (
    CREATED_AT,
    ApiError,
    Body,
    Stream,
    StreamFaults,
    WireRequest,
    json_body,
    sse,
)

__all__ = ["STREAM_FAULTS", "cache_use", "chat", "error_body", "message_body", "models",
           "parse_chat"]

MODELS = ("claude-3-5-haiku-latest", "claude-sonnet-4-5", "claude-opus-4-1",
          "claude-haiku-4-5", "claude-opus-4-6", "claude-opus-4-7")
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


def cache_use(cache: PromptCache, chat: ChatInput, breaks: list[Breakpoint]) -> CacheUse:
    """Reads and writes of a request's breakpoints (a prefix through each marked turn)."""
    if not breaks:
        return NO_CACHE
    turns = [(turn.role, turn.text) for turn in chat.turns]
    keys = [digest("anthropic", chat.model, turns[: b.turn + 1]) for b in breaks]
    tokens = [input_tokens(chat.turns[: b.turn + 1]) for b in breaks]
    return account(cache, keys, tokens, [b.ttl for b in breaks])


# -- responses --------------------------------------------------------------------------


def _usage(reply: Reply, cache: CacheUse, output: int | None = None) -> dict[str, Any]:
    return {"input_tokens": reply.input_tokens - cache.read - cache.written,
            "cache_creation_input_tokens": cache.written,
            "cache_read_input_tokens": cache.read,
            "cache_creation": {"ephemeral_5m_input_tokens": cache.write_5m,
                               "ephemeral_1h_input_tokens": cache.write_1h},
            "output_tokens": reply.output_tokens if output is None else output,
            "service_tier": "standard"}


def _tool_id(number: int, index: int) -> str:
    return f"toolu_emu_{number}" if index == 0 else f"toolu_emu_{number}_{index}"


def _content(reply: Reply, number: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.thinking:
        blocks.append({"type": "thinking", "thinking": reply.thinking,
                       "signature": sign(reply.thinking)})
    if not reply.tool_calls:
        return [*blocks, {"type": "text", "text": reply.text}]
    return blocks + [{"type": "tool_use", "id": _tool_id(number, i), "name": call.name,
                      "input": json.loads(call.arguments)}
                     for i, call in enumerate(reply.tool_calls)]


def _message(reply: Reply, model: str, number: int, content: list[Any],
             cache: CacheUse) -> dict[str, Any]:
    return {
        "id": f"msg_emu_{number}", "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": None, "stop_sequence": None,
        "usage": _usage(reply, cache, output=1),
    }


def message_body(reply: Reply, model: str, number: int, cache: CacheUse = NO_CACHE) -> Body:
    """A `message` object."""
    message = _message(reply, model, number, _content(reply, number), cache)
    message["stop_reason"] = stop_reason(reply)
    message["stop_sequence"] = reply.stop_sequence
    message["usage"]["output_tokens"] = reply.output_tokens
    return json_body(message)


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return sse({"type": "content_block_delta", "index": index, "delta": delta},
               "content_block_delta")


def _start(index: int, block: dict[str, Any]) -> bytes:
    return sse({"type": "content_block_start", "index": index, "content_block": block},
               "content_block_start")


def _stop(index: int) -> bytes:
    return sse({"type": "content_block_stop", "index": index}, "content_block_stop")


def _block_frames(index: int, block: dict[str, Any]) -> tuple[bytes, list[bytes]]:
    """(the start frame, the delta frames) of one content block."""
    kind = block["type"]
    if kind == "thinking":
        deltas = [_delta(index, {"type": "thinking_delta", "thinking": piece})
                  for piece in stream_pieces(block["thinking"])]
        deltas.append(_delta(index, {"type": "signature_delta",
                                     "signature": block["signature"]}))
        return _start(index, {"type": "thinking", "thinking": "", "signature": ""}), deltas
    if kind == "tool_use":
        deltas = [_delta(index, {"type": "input_json_delta", "partial_json": piece})
                  for piece in stream_pieces(json.dumps(block["input"]))]
        return _start(index, {**block, "input": {}}), deltas
    deltas = [_delta(index, {"type": "text_delta", "text": piece})
              for piece in stream_pieces(block["text"])]
    return _start(index, {"type": "text", "text": ""}), deltas


def message_stream(reply: Reply, model: str, number: int,
                   cache: CacheUse = NO_CACHE) -> Stream:
    """The SSE events of a streamed message (the first block's start in the head, every
    later frame a content frame, so faults can cut anywhere)."""
    frames: list[bytes] = []
    for index, block in enumerate(_content(reply, number)):
        start, deltas = _block_frames(index, block)
        frames += [start, *deltas, _stop(index)]
    opening = {"type": "message_start", "message": _message(reply, model, number, [], cache)}
    head = (sse(opening, "message_start"), frames[0], sse({"type": "ping"}, "ping"))
    stop = {"stop_reason": stop_reason(reply), "stop_sequence": reply.stop_sequence}
    tail = (
        frames[-1],
        sse({"type": "message_delta", "delta": stop,
             "usage": {"output_tokens": reply.output_tokens}}, "message_delta"),
        sse({"type": "message_stop"}, "message_stop"),
    )
    return Stream(head, tuple(frames[1:-1]), tail, SSE_TYPE, STREAM_FAULTS)


# -- endpoints --------------------------------------------------------------------------


def chat(call: WireRequest) -> Body | Stream:
    """POST /v1/messages (requires the `anthropic-version` header)."""
    if not call.headers.get("anthropic-version"):
        raise ApiError(400, "anthropic-version: header is required")
    body = call.json()
    request, breaks = parse_request(body)
    reply = make_reply(request)
    if call.filtered:
        reply = filtered(reply)
    cache = cache_use(call.cache, request, breaks)
    number = call.next_id()
    if body.get("stream") is True:
        return message_stream(reply, request.model, number, cache)
    return message_body(reply, request.model, number, cache)


def models(call: WireRequest) -> Body:
    """GET /v1/models, Anthropic's shape."""
    data = [{"type": "model", "id": name, "display_name": name, "created_at": CREATED_AT}
            for name in MODELS]
    return json_body({"data": data, "has_more": False, "first_id": MODELS[0],
                      "last_id": MODELS[-1]})
