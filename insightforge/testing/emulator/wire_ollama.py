"""The Ollama REST wire format.

What lives here: `POST /api/chat` (NDJSON streaming by default; `stream: false` for one
object; ``images`` on a message: base64 images, checked and described; ``format``: "json"
or a JSON Schema the answer follows; ``think``: thinking models only — qwen3, deepseek-r1,
gpt-oss (which alone takes "low"/"medium"/"high"), magistral —, the reasoning returned as
``message.thinking``, streamed first; several tool calls in one message), `POST
/api/embed`, `GET /api/tags`, `GET /api/version`, and the error body ``{"error": "..."}``.
A model whose name starts with "missing" is not pulled: 404. Pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .media import IMAGE_TYPES, check_media, decode_b64, describe
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
    Stream,
    StreamFaults,
    WireRequest,
    dimensions_of,
    embed_inputs,
    json_body,
    ndjson,
    req_str,
    stops_of,
    text_of,
)

__all__ = ["STREAM_FAULTS", "chat", "embed", "error_body", "parse_chat", "tags", "version"]

MODELS = ("llama3.1:latest", "qwen2.5:7b", "qwen3:latest", "gpt-oss:20b", "llava:latest",
          "nomic-embed-text:latest")
THINKING = ("qwen3", "deepseek-r1", "gpt-oss", "magistral")
"""Model name prefixes that can think."""
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


def _images(message: Mapping[str, Any], index: int) -> list[str]:
    images = message.get("images") or []
    if not isinstance(images, list):
        raise ApiError(400, "images must be a list of base64 strings")
    out = []
    for number, image in enumerate(images):
        where = f"messages[{index}].images[{number}]"
        data = decode_b64(image, where)
        out.append(describe("image", check_media(None, data, IMAGE_TYPES, where), data))
    return out


def _turn(message: Any, index: int) -> Turn:
    if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
        raise ApiError(400, "each message needs a role")
    text = text_of(message.get("content"))
    media = _images(message, index)
    return Turn(str(message["role"]), "\n".join([text, *media] if text else media))


def _tools(tools: Any) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    names, schemas = [], []
    for tool in tools or []:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise ApiError(400, "each tool needs function.name")
        names.append(str(function["name"]))
        schemas.append(function.get("parameters"))
    return tuple(names), tuple(schemas)


def _think(body: Mapping[str, Any], model: str) -> bool:
    think = body.get("think")
    if think is None or think is False:
        return False
    if not model.startswith(THINKING):
        raise ApiError(400, f'"{model}" does not support thinking')
    if isinstance(think, str) and (think not in ("low", "medium", "high")
                                   or not model.startswith("gpt-oss")):
        raise ApiError(400, f"think value {think!r} is not supported for this model")
    if not isinstance(think, (bool, str)):
        raise ApiError(400, "think must be a boolean or 'low', 'medium', 'high'")
    return True


def parse_chat(body: Mapping[str, Any]) -> ChatInput:
    """An /api/chat request as a `ChatInput`."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list")
    options = body.get("options")
    options = options if isinstance(options, Mapping) else {}
    limit = options.get("num_predict")
    fmt = body.get("format")
    if fmt is not None and fmt != "json" and not isinstance(fmt, Mapping):
        raise ApiError(400, "format must be \"json\" or a JSON schema object")
    model = _model(body)
    names, schemas = _tools(body.get("tools"))
    turns = tuple(_turn(message, i) for i, message in enumerate(messages))
    last = messages[-1]
    continues = turns[-1].role == "assistant" and not (
        isinstance(last, Mapping) and last.get("tool_calls"))
    return ChatInput(
        model=model,
        turns=turns,
        prefill=turns[-1].text if continues and turns[-1].text else None,
        max_tokens=limit if isinstance(limit, int) and limit >= 0 else None,
        stop=stops_of(options.get("stop")),
        tools=names,
        json_mode=fmt is not None,
        schema=fmt if isinstance(fmt, Mapping) else None,
        tool_schemas=schemas,
        reasoning=_think(body, model),
    )


# -- responses --------------------------------------------------------------------------


def _message(reply: Reply, thinking: bool = True) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.thinking and thinking:
        message["thinking"] = reply.thinking
    if reply.tool_calls:
        message["tool_calls"] = [{"function": {"name": call.name,
                                               "arguments": json.loads(call.arguments)}}
                                 for call in reply.tool_calls]
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
    """NDJSON lines of a streamed chat: the thinking word by word, then one line per word
    (or one line with every tool call), then done."""
    content = [_line(model, {"role": "assistant", "content": "", "thinking": piece})
               for piece in stream_pieces(reply.thinking)]
    if reply.tool_calls:
        content.append(_line(model, _message(reply, thinking=False)))
    else:
        content += [_line(model, {"role": "assistant", "content": piece})
                    for piece in stream_pieces(reply.text)]
    final = _final(reply, model, {"role": "assistant", "content": ""})
    return Stream((), tuple(content), (ndjson(final),), NDJSON_TYPE, STREAM_FAULTS)


# -- endpoints --------------------------------------------------------------------------


def chat(call: WireRequest) -> Body | Stream:
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


def embed(call: WireRequest) -> Body:
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


def tags(call: WireRequest) -> Body:
    """GET /api/tags."""
    models = [{"name": name, "model": name, "modified_at": CREATED_AT, "size": 4_920_753_328,
               "digest": f"{index:064x}",
               "details": {"format": "gguf", "family": "llama", "parameter_size": "8.0B",
                           "quantization_level": "Q4_K_M"}}
              for index, name in enumerate(MODELS, start=1)]
    return json_body({"models": models})


def version(call: WireRequest) -> Body:
    """GET /api/version."""
    return json_body({"version": "0.5.7-emulator"})
