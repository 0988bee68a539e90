"""The OpenAI wire format (also served for Azure OpenAI and, via wire_hf, for TGI).

What lives here: request parsing (`parse_chat`) to a neutral `ChatInput`, and the bodies
and stream events of the Chat Completions, Embeddings and Models APIs, shaped exactly as
openai-python's `ChatCompletion`, `ChatCompletionChunk`, `CreateEmbeddingResponse` and
`Model` types; plus the error body `{"error": {"message", "type", "param", "code"}}`.
Pure functions: no sockets, no clock.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any

from .replies import (
    ChatInput,
    Reply,
    ToolCall,
    Turn,
    count_tokens,
    embed_vector,
    filtered,
    make_reply,
    stream_pieces,
)
from .wire_common import (
    CREATED,
    ApiError,
    Body,
    Call,
    Stream,
    StreamFaults,
    dimensions_of,
    embed_inputs,
    json_body,
    opt_int,
    req_str,
    sse,
    stops_of,
    text_of,
)

__all__ = [
    "STREAM_FAULTS",
    "chat",
    "chat_body",
    "chat_stream",
    "embeddings",
    "embeddings_body",
    "error_body",
    "include_usage",
    "models",
    "models_body",
    "parse_chat",
]

MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-3.5-turbo", "text-embedding-3-small")
SSE_TYPE = "text/event-stream"
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
          "tool": "tool", "function": "tool"}


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape for `status`."""
    kind = "invalid_request_error"
    if status == 429:
        kind = code = "insufficient_quota" if "quota" in message else "rate_limit_exceeded"
    elif status >= 500:
        kind = "server_error"
    elif status == 400 and code is None and "context length" in message:
        code = "context_length_exceeded"
    elif status == 401 and code is None:
        code = "invalid_api_key"
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _stream_error(kind: str, message: str) -> bytes:
    return sse({"error": {"message": message, "type": kind, "param": None, "code": None}})


STREAM_FAULTS = StreamFaults(
    error=_stream_error,
    malformed=b'data: {"id": "x", "choi\n\n',
    wrong_shape=sse({"unexpected": True}),
    end=(b"data: [DONE]\n\n",),
)


# -- requests ---------------------------------------------------------------------------


def _turn(message: Any) -> Turn:
    if not isinstance(message, Mapping):
        raise ApiError(400, "each message must be an object")
    role = _ROLES.get(str(message.get("role")))
    if role is None:
        raise ApiError(400, f"unknown message role {message.get('role')!r}")
    return Turn(role, text_of(message.get("content")))


def _tool_names(tools: Any) -> tuple[str, ...]:
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise ApiError(400, "'tools' must be a list")
    names = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise ApiError(400, "each tool needs function.name")
        names.append(function["name"])
    return tuple(names)


def _forced_tool(choice: Any) -> str | None:
    if isinstance(choice, Mapping):
        function = choice.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return str(function["name"])
        if isinstance(choice.get("name"), str):
            return str(choice["name"])
    return None


def _json_mode(body: Mapping[str, Any]) -> bool:
    fmt = body.get("response_format")
    return isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema")


def parse_chat(body: Mapping[str, Any], model: str | None = None) -> ChatInput:
    """A Chat Completions request as a `ChatInput` (`model` overrides the body's)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list")
    limit = opt_int(body, "max_completion_tokens")
    choice = body.get("tool_choice")
    return ChatInput(
        model=model or req_str(body, "model"),
        turns=tuple(_turn(message) for message in messages),
        max_tokens=limit if limit is not None else opt_int(body, "max_tokens"),
        stop=stops_of(body.get("stop")),
        tools=_tool_names(body.get("tools")),
        tool_choice_none=choice == "none",
        forced_tool=_forced_tool(choice),
        json_mode=_json_mode(body),
    )


def include_usage(body: Mapping[str, Any]) -> bool:
    """True when the stream should end with a usage chunk."""
    options = body.get("stream_options")
    return isinstance(options, Mapping) and options.get("include_usage") is True


# -- responses --------------------------------------------------------------------------


def _usage(reply: Reply) -> dict[str, int]:
    total = reply.input_tokens + reply.output_tokens
    return {"prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
            "total_tokens": total}


def _tool_call_json(call: ToolCall, call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function",
            "function": {"name": call.name, "arguments": call.arguments}}


def chat_body(reply: Reply, model: str, number: int) -> Body:
    """A `chat.completion` object."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
    if reply.tool_call is not None:
        message["content"] = None
        message["tool_calls"] = [_tool_call_json(reply.tool_call, f"call_emu_{number}")]
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish}
    return json_body({
        "id": f"chatcmpl-emu-{number}", "object": "chat.completion", "created": CREATED,
        "model": model, "system_fingerprint": "fp_emulator", "choices": [choice],
        "usage": _usage(reply),
    })


class _Chunks:
    """Builds `chat.completion.chunk` events sharing one id/model."""

    def __init__(self, model: str, number: int, with_usage: bool) -> None:
        self.base: dict[str, Any] = {
            "id": f"chatcmpl-emu-{number}", "object": "chat.completion.chunk",
            "created": CREATED, "model": model, "system_fingerprint": "fp_emulator",
        }
        if with_usage:
            self.base["usage"] = None

    def delta(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse({**self.base, "choices": [choice]})

    def usage(self, reply: Reply) -> bytes:
        return sse({**self.base, "choices": [], "usage": _usage(reply)})


def _tool_frames(chunks: _Chunks, call: ToolCall, number: int) -> tuple[bytes, list[bytes]]:
    first = {"index": 0, "id": f"call_emu_{number}", "type": "function",
             "function": {"name": call.name, "arguments": ""}}
    head = chunks.delta({"role": "assistant", "content": None, "tool_calls": [first]})
    content = [
        chunks.delta({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        for piece in stream_pieces(call.arguments)
    ]
    return head, content


def chat_stream(
    reply: Reply, model: str, number: int, *, usage: str = "none", faults: StreamFaults
) -> Stream:
    """SSE chunks of a streamed chat completion.

    `usage`: "none" (no usage), "chunk" (a final chunk with `choices: []`, as OpenAI does
    with `stream_options.include_usage`) or "last" (usage on the finish chunk, as TGI does).
    """
    chunks = _Chunks(model, number, usage == "chunk")
    if reply.tool_call is not None:
        head, content = _tool_frames(chunks, reply.tool_call, number)
    else:
        head = chunks.delta({"role": "assistant", "content": "", "refusal": None})
        content = [chunks.delta({"content": piece}) for piece in stream_pieces(reply.text)]
    if usage == "last":
        chunks.base["usage"] = _usage(reply)
    tail = [chunks.delta({}, reply.finish)]
    if usage == "chunk":
        tail.append(chunks.usage(reply))
    tail.append(b"data: [DONE]\n\n")
    return Stream((head,), tuple(content), tuple(tail), SSE_TYPE, faults)


def _encode(vector: list[float], encoding: str) -> Any:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector


def embeddings_body(body: Mapping[str, Any], model: str | None = None) -> Body:
    """A `list` of `embedding` objects for `input` (str or list of str)."""
    texts = embed_inputs(body.get("input"), "input")
    size = dimensions_of(body)
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise ApiError(400, "'encoding_format' must be 'float' or 'base64'")
    data = [
        {"object": "embedding", "index": i, "embedding": _encode(embed_vector(t, size), encoding)}
        for i, t in enumerate(texts)
    ]
    tokens = sum(count_tokens(text) for text in texts)
    return json_body({
        "object": "list", "data": data, "model": model or req_str(body, "model"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })


def models_body() -> Body:
    """A `list` of `model` objects."""
    data = [{"id": name, "object": "model", "created": CREATED, "owned_by": "emulator"}
            for name in MODELS]
    return json_body({"object": "list", "data": data})


# -- endpoints --------------------------------------------------------------------------


def chat(call: Call) -> Body | Stream:
    """POST /v1/chat/completions (the deployment, for Azure, names the model)."""
    body = call.json()
    request = parse_chat(body, call.params.get("deployment"))
    reply = make_reply(request)
    if call.filtered:
        reply = filtered(reply)
    number = call.next_id()
    if body.get("stream") is True:
        usage = "chunk" if include_usage(body) else "none"
        return chat_stream(reply, request.model, number, usage=usage, faults=STREAM_FAULTS)
    return chat_body(reply, request.model, number)


def embeddings(call: Call) -> Body:
    """POST /v1/embeddings."""
    return embeddings_body(call.json(), call.params.get("deployment"))


def models(call: Call) -> Body:
    """GET /v1/models."""
    return models_body()
