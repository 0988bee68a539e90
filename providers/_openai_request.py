"""The OpenAI wire format, request side — pure: a ChatRequest as a ``/chat/completions`` body.

What lives here: messages with content parts (text; images as ``image_url``, bytes as
``data:`` URLs; audio as ``input_audio``; files as ``file`` with ``file_data``; reasoning
parts dropped, since Chat Completions takes none back), tools, ``response_format`` (a
JSON Schema as ``json_schema`` with ``strict``), reasoning (``reasoning_effort`` and
``max_completion_tokens``), ``parallel_tool_calls``, and prompt caching (a
``prompt_cache_key`` derived from the marked prefix, so requests sharing it reach the same
cache, and ``prompt_cache_retention: 24h`` for one-hour marks on models that offer it).
Shared by OpenAI, Azure, compatible servers and TGI; the answer side is
:mod:`providers._openai_wire`. What must not: clients, sockets, credentials.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from insightforge.errors import InvalidRequest
from insightforge.types import (
    AudioPart,
    ChatRequest,
    EmbedRequest,
    FilePart,
    ImagePart,
    Message,
    Part,
    TextPart,
    ThinkingPart,
    Tool,
)
from providers._capabilities import unsupported
from providers._wire import output_format

__all__ = ["chat_body", "embed_body", "message_json", "plain", "uses_completion_tokens"]

_NEW_LIMIT = re.compile(r"^(o\d|gpt-5)")  # models that take max_completion_tokens
_LONG_RETENTION = re.compile(r"^(gpt-5|gpt-4\.1)")  # models offering 24h cache retention
_FORMAT_TYPES = frozenset({"json_object", "json_schema", "text"})
_TOOL_CHOICES = frozenset({"auto", "none", "required"})


def uses_completion_tokens(model: str) -> bool:
    """True for models that reject ``max_tokens`` (o-series, gpt-5)."""
    return _NEW_LIMIT.match(model) is not None


def plain(value: Any) -> Any:
    """Read-only mappings (and nested ones) as plain dicts, for JSON."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def _part_json(part: Part, provider: str) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        url = part.url if part.data is None else _data_url(part.media_type or "", part.data)
        image: dict[str, Any] = {"url": url}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, AudioPart):
        data = base64.b64encode(part.data).decode("ascii")
        return {"type": "input_audio", "input_audio": {"data": data, "format": part.format}}
    if isinstance(part, FilePart) and part.data is not None:
        return {"type": "file", "file": {
            "file_data": _data_url(part.media_type or "application/pdf", part.data),
            "filename": part.filename or "document.pdf"}}
    raise unsupported(provider, f"a {part.kind} part given by URL", "send the file's bytes "
                      "(FilePart(data=..., media_type=...))")


def _content(message: Message, provider: str) -> Any:
    if isinstance(message.content, str):
        return message.content
    parts = [p for p in message.content if not isinstance(p, ThinkingPart)]
    if message.role != "user":  # only user messages take images, audio and files
        media = next((p for p in parts if not isinstance(p, TextPart)), None)
        if media is not None:
            raise unsupported(provider, f"a {media.kind} part in a {message.role} message",
                              "put images, audio and files in user messages")
        return message.text
    return [_part_json(p, provider) for p in parts]


def message_json(message: Message, provider: str = "openai") -> dict[str, Any]:
    """One message in the wire shape."""
    out: dict[str, Any] = {"role": message.role, "content": _content(message, provider)}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls]
        if not out["content"]:
            out["content"] = None
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out


def _tool_json(tool: Tool) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": tool.name, "description": tool.description,
        "parameters": plain(tool.parameters)}}


def _response_format(value: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, str):
        if value == "json":
            return {"type": "json_object"}
        if value == "text":
            return {"type": "text"}
        raise InvalidRequest(f"response_format must be 'json', 'text' or a mapping, got {value!r}")
    if value.get("type") in _FORMAT_TYPES:
        return plain(value)  # type: ignore[no-any-return]
    fmt = output_format(value)
    assert fmt is not None and fmt.schema is not None
    return {"type": "json_schema",
            "json_schema": {"name": fmt.name, "schema": plain(fmt.schema), "strict": True}}


def _cache_fields(request: ChatRequest, messages: list[dict[str, Any]],
                  model: str) -> dict[str, Any]:
    """OpenAI caches prefixes by itself; a mark names the prefix (``prompt_cache_key``, a
    digest of everything up to the last mark) and a one-hour mark asks for longer
    retention where offered."""
    marked = [i for i, m in enumerate(request.messages) if m.cache is not None]
    tools = [t for t in request.tools if t.cache is not None]
    if not marked and not tools:
        return {}
    prefix = {"tools": [_tool_json(t) for t in request.tools] if tools else [],
              "messages": messages[: marked[-1] + 1] if marked else []}
    digest = hashlib.sha256(json.dumps(prefix, sort_keys=True).encode("utf-8")).hexdigest()
    out: dict[str, Any] = {"prompt_cache_key": f"if-{digest[:32]}"}
    ttls = {m.cache.ttl for m in request.messages if m.cache is not None}
    ttls |= {t.cache.ttl for t in tools if t.cache is not None}
    if "1h" in ttls and _LONG_RETENTION.match(model):
        out["prompt_cache_retention"] = "24h"
    return out


def chat_body(request: ChatRequest, model: str, *, stream_usage: bool = True,
              prompt_caching: bool = False, provider: str = "openai") -> dict[str, Any]:
    """The JSON body of ``POST /chat/completions`` for ``request`` sent to ``model``.

    ``request.options`` are merged last, so a provider-specific parameter always wins.
    ``tags`` are never sent. Cache marks are mapped only with ``prompt_caching``.
    """
    messages = [message_json(m, provider) for m in request.messages]
    body: dict[str, Any] = {"model": model, "messages": messages}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.max_tokens is not None:
        new = request.reasoning is not None or uses_completion_tokens(model)
        body["max_completion_tokens" if new else "max_tokens"] = request.max_tokens
    if request.stop:
        body["stop"] = list(request.stop)
    if request.seed is not None:
        body["seed"] = request.seed
    if request.tools:
        body["tools"] = [_tool_json(t) for t in request.tools]
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.tool_choice is not None:
        choice = request.tool_choice
        body["tool_choice"] = (choice if choice in _TOOL_CHOICES
                               else {"type": "function", "function": {"name": choice}})
    if request.response_format is not None:
        body["response_format"] = _response_format(request.response_format)
    if request.reasoning is not None and request.reasoning.effort is not None:
        body["reasoning_effort"] = request.reasoning.effort
    if prompt_caching:
        body.update(_cache_fields(request, messages, model))
    if request.stream:
        body["stream"] = True
        if stream_usage:
            body["stream_options"] = {"include_usage": True}
    if request.options:
        body.update(plain(request.options))
    return body


def embed_body(request: EmbedRequest, model: str) -> dict[str, Any]:
    """The JSON body of ``POST /embeddings``."""
    body: dict[str, Any] = {"model": model, "input": list(request.inputs),
                            "encoding_format": "float"}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.options:
        body.update(plain(request.options))
    return body
