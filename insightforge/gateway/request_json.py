"""The inverse of :mod:`.wire`: a :class:`~insightforge.ChatRequest` as the JSON body an
OpenAI client would send to ``/v1/chat/completions``.

What lives here: :func:`chat_request_json`, pure. ``parse_chat(chat_request_json(r)) == r``
for every request the wire can carry (a property test holds it); tags travel as
``metadata``. The core must not import ``providers``, so this small mapping is its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from insightforge.gateway.wire import DEFAULT_MODEL
from insightforge.types import ChatRequest, Message

__all__ = ["chat_request_json"]

_CHOICES = frozenset({"auto", "none", "required"})


def _message_json(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.name is not None:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "type": "function",
                              "function": {"name": c.name, "arguments": c.arguments}}
                             for c in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
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
        body["tools"] = [{"type": "function", "function": {
            "name": t.name, "description": t.description, "parameters": dict(t.parameters)}}
            for t in request.tools]
    if request.response_format is not None:
        body["response_format"] = _format_json(request.response_format)
    if request.stream:
        body["stream"] = True
    if request.tags:
        body["metadata"] = dict(request.tags)
    return body
