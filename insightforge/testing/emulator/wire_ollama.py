"""The Ollama REST wire format.

What lives here: `POST /api/chat` (NDJSON streaming by default; `stream: false` for one
object), `POST /api/embed`, `GET /api/tags`, `GET /api/version`, and the error body
``{"error": "..."}``. A model whose name starts with "missing" is not pulled: 404.
Pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .replies import (
    ChatInput,
    Reply,
    Turn,
    count_tokens,
    embed_vector,
    filtered,
    make_reply,
    stream_pieces,
)
from .wire_common import (
    CREATED_AT,
    ApiError,
    Body,
    Call,
    Stream,
    StreamFaults,
    dimensions_of,
    embed_inputs,
    json_body,
    ndjson,
    req_str,
    stops_of,
    text_of,
)

__all__ = ["STREAM_FAULTS", "chat", "embed", "error_body", "parse_chat", "tags", "version"]

MODELS = ("llama3.1:latest", "qwen2.5:7b", "nomic-embed-text:latest")
NDJSON_TYPE = "application/x-ndjson"
_DONE = {"stop": "stop", "length": "length", "tool_calls": "stop",
         "content_filter": "content_filter"}


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """Ollama's error shape."""
    return {"error": message}


STREAM_FAULTS = StreamFaults(
    error=lambda kind, message: ndjson({"error": message}),
    malformed=b'{"model": "x", "messa\n',
    wrong_shape=ndjson({"unexpected": True}),
)


# -- requests ---------------------------------------------------------------------------


def _model(body: Mapping[str, Any]) -> str:
    model = req_str(body, "model")
    if model.startswith("missing"):
        raise ApiError(404, f"model '{model}' not found, try pulling it first")
    return model


def _turn(message: Any) -> Turn:
    if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
        raise ApiError(400, "each message needs a role")
    return Turn(str(message["role"]), text_of(message.get("content")))


def _tools(tools: Any) -> tuple[str, ...]:
    names = []
    for tool in tools or []:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise ApiError(400, "each tool needs function.name")
        names.append(str(function["name"]))
    return tuple(names)


def parse_chat(body: Mapping[str, Any]) -> ChatInput:
    """An /api/chat request as a `ChatInput`."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list")
    options = body.get("options")
    options = options if isinstance(options, Mapping) else {}
    limit = options.get("num_predict")
    fmt = body.get("format")
    return ChatInput(
        model=_model(body),
        turns=tuple(_turn(message) for message in messages),
        max_tokens=limit if isinstance(limit, int) and limit >= 0 else None,
        stop=stops_of(options.get("stop")),
        tools=_tools(body.get("tools")),
        json_mode=fmt == "json" or isinstance(fmt, Mapping),
    )


# -- responses --------------------------------------------------------------------------


def _message(reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.tool_call is not None:
        arguments = json.loads(reply.tool_call.arguments)
        message["tool_calls"] = [{"function": {"name": reply.tool_call.name,
                                               "arguments": arguments}}]
    return message


def _final(reply: Reply, model: str, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": model, "created_at": CREATED_AT, "message": message, "done": True,
        "done_reason": _DONE[reply.finish], "total_duration": 0, "load_duration": 0,
        "prompt_eval_count": reply.input_tokens, "prompt_eval_duration": 0,
        "eval_count": reply.output_tokens, "eval_duration": 0,
    }


def _line(model: str, message: dict[str, Any]) -> bytes:
    return ndjson({"model": model, "created_at": CREATED_AT, "message": message, "done": False})


def chat_stream(reply: Reply, model: str) -> Stream:
    """NDJSON lines of a streamed chat: one per word (or one tool-call line), then done."""
    if reply.tool_call is not None:
        content = [_line(model, _message(reply))]
    else:
        content = [_line(model, {"role": "assistant", "content": piece})
                   for piece in stream_pieces(reply.text)]
    final = _final(reply, model, {"role": "assistant", "content": ""})
    return Stream((), tuple(content), (ndjson(final),), NDJSON_TYPE, STREAM_FAULTS)


# -- endpoints --------------------------------------------------------------------------


def chat(call: Call) -> Body | Stream:
    """POST /api/chat (`stream` defaults to true)."""
    body = call.json()
    request = parse_chat(body)
    reply = make_reply(request)
    if call.filtered:
        reply = filtered(reply)
    call.next_id()
    if body.get("stream", True) is not False:
        return chat_stream(reply, request.model)
    return json_body(_final(reply, request.model, _message(reply)))


def embed(call: Call) -> Body:
    """POST /api/embed."""
    body = call.json()
    model = _model(body)
    texts = embed_inputs(body.get("input"), "input")
    size = dimensions_of(body)
    return json_body({
        "model": model, "embeddings": [embed_vector(text, size) for text in texts],
        "total_duration": 0, "load_duration": 0,
        "prompt_eval_count": sum(count_tokens(text) for text in texts),
    })


def tags(call: Call) -> Body:
    """GET /api/tags."""
    models = [{"name": name, "model": name, "modified_at": CREATED_AT, "size": 4_920_753_328,
               "digest": f"{index:064x}",
               "details": {"format": "gguf", "family": "llama", "parameter_size": "8.0B",
                           "quantization_level": "Q4_K_M"}}
              for index, name in enumerate(MODELS, start=1)]
    return json_body({"models": models})


def version(call: Call) -> Body:
    """GET /api/version."""
    return json_body({"version": "0.5.7-emulator"})
