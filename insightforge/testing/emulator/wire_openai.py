"""The OpenAI wire format (also served for Azure OpenAI and, via wire_hf, for TGI).

What lives here: the bodies and stream events of the Chat Completions, Embeddings and
Models APIs, shaped exactly as openai-python's `ChatCompletion`, `ChatCompletionChunk`,
`CreateEmbeddingResponse` and `Model` types (several tool calls in one answer; usage with
``prompt_tokens_details.cached_tokens`` and ``completion_tokens_details.reasoning_tokens``;
no reasoning text, as OpenAI returns none), the automatic prompt cache (a request that
carries ``prompt_cache_key``, or has 1024+ prompt tokens, reads the prefix a previous one
wrote), and the error body `{"error": {"message", "type", "param", "code"}}`. Requests are
read by :mod:`.openai_parse` (re-exported `parse_chat`). Pure functions: no sockets, no
clock.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any

from .openai_parse import parse_chat, prefix_turns
from .prompt_cache import NO_CACHE, CacheUse, PromptCache, digest
from .replies import (
    ChatInput,
    EmulatedToolCall,
    Reply,
    count_tokens,
    embed_vector,
    filtered,
    input_tokens,
    make_reply,
    stream_pieces,
)
from .wire_common import (
    CREATED,
    ApiError,
    Body,
    Stream,
    StreamFaults,
    WireRequest,
    dimensions_of,
    embed_inputs,
    json_body,
    req_str,
    sse,
)

__all__ = [
    "STREAM_FAULTS",
    "chat",
    "chat_body",
    "chat_stream",
    "embeddings",
    "embeddings_body",
    "error_body",
    "cache_use",
    "include_usage",
    "models",
    "models_body",
    "parse_chat",
    "usage_json",
]

MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-3.5-turbo", "gpt-5-mini", "o4-mini",
          "text-embedding-3-small")
SSE_TYPE = "text/event-stream"
AUTO_CACHE_TOKENS = 1024
"""Prompts this long are cached without a ``prompt_cache_key``, as OpenAI does."""


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


def include_usage(body: Mapping[str, Any]) -> bool:
    """True when the stream should end with a usage chunk."""
    options = body.get("stream_options")
    return isinstance(options, Mapping) and options.get("include_usage") is True


def cache_use(cache: PromptCache, body: Mapping[str, Any], chat: ChatInput) -> CacheUse:
    """OpenAI's automatic cache: reads of the prefix (all turns but the last) when a request
    with the same key and prefix came before. OpenAI reports no writes (they are free)."""
    key = body.get("prompt_cache_key")
    if key is None and chat.turns and input_tokens(chat.turns) < AUTO_CACHE_TOKENS:
        return NO_CACHE
    prefix = prefix_turns(chat)
    if not prefix:
        return NO_CACHE
    name = digest("openai", chat.model, key, prefix)
    read = input_tokens(chat.turns[:-1]) if cache.seen(name) else 0
    cache.add(name)
    return CacheUse(read)


# -- responses --------------------------------------------------------------------------


def usage_json(reply: Reply, cache: CacheUse = NO_CACHE) -> dict[str, Any]:
    """OpenAI's usage object, with its prompt and completion details."""
    total = reply.input_tokens + reply.output_tokens
    return {"prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
            "total_tokens": total,
            "prompt_tokens_details": {"cached_tokens": cache.read, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens,
                                          "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0}}


def _call_id(number: int, index: int) -> str:
    return f"call_emu_{number}" if index == 0 else f"call_emu_{number}_{index}"


def _tool_call_json(call: EmulatedToolCall, call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function",
            "function": {"name": call.name, "arguments": call.arguments}}


def chat_body(reply: Reply, model: str, number: int, cache: CacheUse = NO_CACHE) -> Body:
    """A `chat.completion` object."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
    if reply.tool_calls:
        message["content"] = None
        message["tool_calls"] = [_tool_call_json(call, _call_id(number, i))
                                 for i, call in enumerate(reply.tool_calls)]
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish}
    return json_body({
        "id": f"chatcmpl-emu-{number}", "object": "chat.completion", "created": CREATED,
        "model": model, "system_fingerprint": "fp_emulator", "choices": [choice],
        "usage": usage_json(reply, cache),
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

    def usage(self, reply: Reply, cache: CacheUse) -> bytes:
        return sse({**self.base, "choices": [], "usage": usage_json(reply, cache)})


def _tool_frames(chunks: _Chunks, calls: tuple[EmulatedToolCall, ...],
                 number: int) -> tuple[bytes, list[bytes]]:
    head = chunks.delta({"role": "assistant", "content": None})
    content = []
    for index, call in enumerate(calls):
        start = {"index": index, "id": _call_id(number, index), "type": "function",
                 "function": {"name": call.name, "arguments": ""}}
        content.append(chunks.delta({"tool_calls": [start]}))
        content += [chunks.delta({"tool_calls": [{"index": index,
                                                  "function": {"arguments": piece}}]})
                    for piece in stream_pieces(call.arguments)]
    return head, content


def chat_stream(
    reply: Reply, model: str, number: int, *, usage: str = "none", faults: StreamFaults,
    cache: CacheUse = NO_CACHE,
) -> Stream:
    """SSE chunks of a streamed chat completion.

    `usage`: "none" (no usage), "chunk" (a final chunk with `choices: []`, as OpenAI does
    with `stream_options.include_usage`) or "last" (usage on the finish chunk, as TGI does).
    """
    chunks = _Chunks(model, number, usage == "chunk")
    if reply.tool_calls:
        head, content = _tool_frames(chunks, reply.tool_calls, number)
    else:
        head = chunks.delta({"role": "assistant", "content": "", "refusal": None})
        content = [chunks.delta({"content": piece}) for piece in stream_pieces(reply.text)]
    if usage == "last":
        chunks.base["usage"] = usage_json(reply, cache)
    tail = [chunks.delta({}, reply.finish)]
    if usage == "chunk":
        tail.append(chunks.usage(reply, cache))
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


def chat(call: WireRequest) -> Body | Stream:
    """POST /v1/chat/completions (the deployment, for Azure, names the model)."""
    body = call.json()
    request = parse_chat(body, call.params.get("deployment"))
    reply = make_reply(request)
    if call.filtered:
        reply = filtered(reply)
    cache = cache_use(call.cache, body, request)
    number = call.next_id()
    if body.get("stream") is True:
        usage = "chunk" if include_usage(body) else "none"
        return chat_stream(reply, request.model, number, usage=usage, faults=STREAM_FAULTS,
                           cache=cache)
    return chat_body(reply, request.model, number, cache)


def embeddings(call: WireRequest) -> Body:
    """POST /v1/embeddings."""
    return embeddings_body(call.json(), call.params.get("deployment"))


def models(call: WireRequest) -> Body:
    """GET /v1/models."""
    return models_body()
