"""The inverse of :mod:`.wire`: a :class:`~insightforge.ChatRequest` as the JSON body an
OpenAI client would send to ``/v1/chat/completions``.

What lives here: :func:`chat_request_json`, pure. ``parse_chat(chat_request_json(r)) == r``
for every request the wire can carry (content parts as OpenAI parts, cache marks as
``cache_control``, reasoning as ``reasoning_effort``) (a property test holds it); tags travel as
``metadata``. The core must not import ``providers``, so this small mapping is its own.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from insightforge.gateway.wire import DEFAULT_MODEL
from insightforge.types import (
    AudioPart,
    CacheControl,
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    Part,
    TextPart,
    ThinkingPart,
    Tool,
)

__all__ = ["chat_request_json"]

_CHOICES = frozenset({"auto", "none", "required"})


def _data_url(media_type: str | None, data: bytes) -> str:
    return f"data:{media_type or 'application/octet-stream'};base64," \
        f"{base64.b64encode(data).decode('ascii')}"


def _part_json(part: Part) -> dict[str, Any]:
    """One part in OpenAI's form (thinking parts do not travel: the caller drops them)."""
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        image: dict[str, Any] = {"url": part.url if part.data is None
                                 else _data_url(part.media_type, part.data)}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, AudioPart):
        return {"type": "input_audio", "input_audio": {
            "data": base64.b64encode(part.data).decode("ascii"), "format": part.format}}
    if isinstance(part, FilePart) and part.data is not None:
        file: dict[str, Any] = {"file_data": _data_url(part.media_type, part.data)}
        if part.filename is not None:
            file["filename"] = part.filename
        return {"type": "file", "file": file}
    raise ValueError(f"a {part.kind} part given by URL has no OpenAI form; send its bytes")


def _content_json(message: Message) -> Any:
    parts = [p for p in message.parts if not isinstance(p, ThinkingPart)]
    if message.cache is None and all(isinstance(p, TextPart) for p in parts):
        return message.text
    out = [_part_json(p) for p in parts] or [{"type": "text", "text": ""}]
    if message.cache is not None:
        out[-1]["cache_control"] = _mark_json(message.cache)
    return out


def _mark_json(mark: CacheControl) -> dict[str, str]:
    return {"type": "ephemeral", "ttl": mark.ttl}


def _message_json(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": _content_json(message)}
    if message.name is not None:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "type": "function",
                              "function": {"name": c.name, "arguments": c.arguments}}
                             for c in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def _tool_json(tool: Tool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "function": {
        "name": tool.name, "description": tool.description, "parameters": dict(tool.parameters)}}
    if tool.cache is not None:
        out["cache_control"] = _mark_json(tool.cache)
    return out


def _format_json(value: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, str):
        return {"type": "json_object" if value == "json" else value}
    return dict(value)


def chat_request_json(request: ChatRequest) -> dict[str, Any]:
    """The ``/v1/chat/completions`` body for ``request`` (tags go in ``metadata``)."""
    body: dict[str, Any] = {**request.options, "model": request.model or DEFAULT_MODEL,
                            "messages": [_message_json(m) for m in request.messages]}
    fields = {"temperature": request.temperature, "top_p": request.top_p,
              "max_tokens": request.max_tokens, "seed": request.seed,
              "tool_choice": request.tool_choice if request.tool_choice in _CHOICES
              or request.tool_choice is None
              else {"type": "function", "function": {"name": request.tool_choice}}}
    body.update({k: v for k, v in fields.items() if v is not None})
    if request.stop:
        body["stop"] = list(request.stop)
    if request.tools:
        body["tools"] = [_tool_json(t) for t in request.tools]
    if request.reasoning is not None and request.reasoning.effort is not None:
        body["reasoning_effort"] = request.reasoning.effort
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.response_format is not None:
        body["response_format"] = _format_json(request.response_format)
    if request.stream:
        body["stream"] = True
    if request.tags:
        body["metadata"] = dict(request.tags)
    return body
