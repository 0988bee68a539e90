"""The Anthropic Messages API, server side: request JSON in, messages and SSE events out.

What lives here: pure functions — :func:`parse_messages` (``POST /v1/messages`` body ->
:class:`~insightforge.ChatRequest`), :func:`message_json` (a ``message`` object),
:class:`StreamEvents` (the SSE event sequence: ``message_start``, ``content_block_start``,
``ping``, ``content_block_delta``, ``content_block_stop``, ``message_delta``,
``message_stop``; ``error`` for a failure mid-stream) and :func:`error_body` (Anthropic's
``{"type": "error", "error": {"type", "message"}}``). Anything we cannot read raises
:class:`~insightforge.errors.InvalidRequest` naming the field.

Content: text, ``image`` and ``document`` blocks (as content parts), ``thinking`` and
``redacted_thinking`` blocks sent back by the assistant, ``tool_use`` (assistant) and
``tool_result`` (user) blocks; ``cache_control`` on a block, the system prompt or a tool
becomes a prompt-cache mark; ``thinking: {"type": "enabled", "budget_tokens": N}`` becomes
:class:`~insightforge.Reasoning`. :func:`_blocks` is the one place that maps blocks. What
must not live here: sockets, the stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from insightforge.errors import InvalidRequest
from insightforge.gateway.wire import _bad, _int, _kind, _list, _number, _obj, _str
from insightforge.types import (
    CacheControl,
    ChatRequest,
    ChatResponse,
    Chunk,
    Message,
    Part,
    Reasoning,
    TextPart,
    ThinkingDelta,
    ThinkingPart,
    Tool,
    ToolCall,
    Usage,
)
from insightforge.types.controls import cache_control
from insightforge.types.messages import Content
from insightforge.types.parts import to_part

__all__ = ["ERROR_TYPES", "StreamEvents", "error_body", "message_json", "parse_messages",
           "sse_event", "stop_reason"]

_LIMITS = ("first_token_timeout", "stall_timeout")  # read by the providers, never sent on
_FIELDS = frozenset({"model", "messages", "system", "max_tokens", "metadata",
                     "stop_sequences", "stream", "temperature", "top_p", "top_k", "tools",
                     "tool_choice", "service_tier", "thinking", *_LIMITS})
_PART_BLOCKS = frozenset({"image", "document"})
_REFUSED = {
    "mcp_servers": "MCP tool calls are billed beyond the answer",
    "container": "code execution is billed per container",
}
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
         "content_filter": "refusal"}
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error", 405: "invalid_request_error",
               413: "request_too_large", 429: "rate_limit_error", 529: "overloaded_error"}


def error_body(status: int, message: str) -> dict[str, Any]:
    """Anthropic's error object for an HTTP status."""
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def stop_reason(finish: str | None) -> str:
    return _STOP.get(finish or "stop", "end_turn")


# -- requests ---------------------------------------------------------------------------


def _text_blocks(value: Any, path: str) -> tuple[str, CacheControl | None]:
    """Text given as a string or as text blocks, and the cache mark a block carries."""
    if isinstance(value, str):
        return value, None
    parts = []
    mark = None
    for i, block in enumerate(_list(value, path)):
        block = _obj(block, f"{path}[{i}]")
        if block.get("type") != "text":
            raise _bad(f"{path}[{i}].type", f"expected a text block, got {block.get('type')!r}")
        parts.append(_str(block.get("text"), f"{path}[{i}].text"))
        mark = _mark(block, f"{path}[{i}]") or mark
    return "".join(parts), mark


def _mark(block: Mapping[str, Any], path: str) -> CacheControl | None:
    """The ``cache_control`` of a block, system prompt or tool (``None`` when absent)."""
    value = block.get("cache_control")
    if value is None:
        return None
    try:
        return cache_control(_obj(value, f"{path}.cache_control"))
    except (TypeError, ValueError) as e:
        raise _bad(f"{path}.cache_control", str(e)) from None


def _part(block: Mapping[str, Any], path: str) -> Part:
    try:
        return to_part({k: v for k, v in block.items() if k != "cache_control"})
    except (TypeError, ValueError) as e:
        raise _bad(path, str(e)) from None


def _content(parts: list[Part]) -> Content:
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    return tuple(parts)


def _blocks(role: str, value: Any, path: str) -> list[Message]:
    """One Anthropic message -> our messages (a tool_result block is a ``tool`` message)."""
    if isinstance(value, str):
        return [Message(role, value)]
    parts: list[Part] = []
    calls: list[ToolCall] = []
    results: list[Message] = []
    mark: CacheControl | None = None
    for i, block in enumerate(_list(value, path)):
        where = f"{path}[{i}]"
        block = _obj(block, where)
        kind = block.get("type")
        mark = _mark(block, where) or mark
        if kind == "text":
            parts.append(TextPart(_str(block.get("text"), f"{where}.text")))
        elif kind in _PART_BLOCKS or (
                kind in ("thinking", "redacted_thinking") and role == "assistant"):
            parts.append(_part(block, where))
        elif kind == "tool_use" and role == "assistant":
            calls.append(ToolCall(_str(block.get("id"), f"{where}.id"),
                                  _str(block.get("name"), f"{where}.name"),
                                  json.dumps(_obj(block.get("input", {}), f"{where}.input"))))
        elif kind == "tool_result" and role == "user":
            text, _ = _text_blocks(block.get("content", ""), f"{where}.content")
            results.append(Message("tool", text, tool_call_id=_str(
                block.get("tool_use_id"), f"{where}.tool_use_id")))
        else:
            raise _bad(f"{where}.type", f"{kind!r} blocks are not supported here (text, "
                       "image, document, thinking and tool_use from the assistant, "
                       "tool_result from the user)")
    out = list(results)
    if parts or calls or not results:
        out.append(Message(role, _content(parts), tool_calls=tuple(calls), cache=mark))
    elif mark is not None:  # a mark on the last tool result
        out[-1] = attrs.evolve(out[-1], cache=mark)
    return out


def _reasoning(value: Any) -> Reasoning | None:
    """``thinking``: ``{"type": "enabled", "budget_tokens": N}`` or ``{"type": "disabled"}``."""
    if value is None:
        return None
    data = _obj(value, "thinking")
    kind = data.get("type")
    if kind == "disabled":
        return None
    if kind != "enabled":
        raise _bad("thinking.type", f"must be 'enabled' or 'disabled', got {kind!r}")
    budget = _int(data.get("budget_tokens"), "thinking.budget_tokens", minimum=1024)
    if budget is None:
        raise _bad("thinking.budget_tokens", "required with thinking enabled (at least 1024)")
    return Reasoning(None, budget_tokens=budget)


def _tool(value: Any, path: str) -> Tool:
    data = _obj(value, path)
    if data.get("type") not in (None, "custom"):
        raise _bad(f"{path}.type", f"only custom (client) tools are supported, got "
                   f"{data.get('type')!r}")
    schema = data.get("input_schema")
    return Tool(_str(data.get("name"), f"{path}.name"),
                _str(data.get("description", ""), f"{path}.description"),
                _obj(schema, f"{path}.input_schema") if schema is not None
                else {"type": "object", "properties": {}}, cache=_mark(data, path))


def _tool_choice(value: Any) -> str | None:
    if value is None:
        return None
    data = _obj(value, "tool_choice")
    kind = data.get("type")
    if kind in ("auto", "none"):
        return str(kind)
    if kind == "any":
        return "required"
    if kind == "tool":
        return _str(data.get("name"), "tool_choice.name")
    raise _bad("tool_choice.type", f"must be auto, any, tool or none, got {kind!r}")


def _tags(data: Mapping[str, Any]) -> dict[str, str]:
    metadata = data.get("metadata")
    if metadata is None:
        return {}
    meta = _obj(metadata, "metadata")
    for key in meta:
        if key != "user_id":
            raise _bad(f"metadata.{key}", "Anthropic's metadata takes only user_id")
    user = meta.get("user_id")
    return {} if user is None else {"user": _str(user, "metadata.user_id")}


def parse_messages(body: Any) -> ChatRequest:
    """The :class:`ChatRequest` a ``/v1/messages`` body asks for (``model`` as sent)."""
    data = _obj(body, "body")
    for name in data:
        if name in _REFUSED:
            raise _bad(name, f"not accepted by this gateway: {_REFUSED[name]}; remove it")
        if name not in _FIELDS:
            raise _bad(name, "unknown field; the gateway forwards only fields it knows, so "
                       "the budget sees every field that can change the price; remove it")
    if data.get("service_tier") not in (None, "standard_only"):
        raise _bad("service_tier", "only 'standard_only' is accepted: other tiers change "
                   "the price and the budget cannot see them")
    max_tokens = _int(data.get("max_tokens"), "max_tokens", minimum=1)
    if max_tokens is None:
        raise _bad("max_tokens", "required: the longest answer, in tokens")
    raw = _list(data.get("messages"), "messages")
    if not raw:
        raise _bad("messages", "must not be empty: send at least one message")
    messages: list[Message] = []
    system = data.get("system")
    if system is not None:
        text, mark = _text_blocks(system, "system")
        if text or mark:
            messages.append(Message("system", text, cache=mark))
    for i, item in enumerate(raw):
        item = _obj(item, f"messages[{i}]")
        role = item.get("role")
        if role not in ("user", "assistant"):
            raise _bad(f"messages[{i}].role", f"must be 'user' or 'assistant', got {role!r}")
        messages.extend(_blocks(role, item.get("content"), f"messages[{i}].content"))
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("stream", f"expected a boolean, got {_kind(stream)}")
    stops = data.get("stop_sequences") or []
    top_k = _int(data.get("top_k"), "top_k", minimum=1)
    options: dict[str, Any] = {} if top_k is None else {"top_k": top_k}
    options.update({k: data[k] for k in _LIMITS if data.get(k) is not None})
    model = data.get("model")
    return ChatRequest(
        tuple(messages), model=None if model is None else _str(model, "model"),
        temperature=_number(data.get("temperature"), "temperature"),
        top_p=_number(data.get("top_p"), "top_p"), max_tokens=max_tokens,
        stop=tuple(_str(s, f"stop_sequences[{i}]")
                   for i, s in enumerate(_list(stops, "stop_sequences"))),
        tools=tuple(_tool(t, f"tools[{i}]")
                    for i, t in enumerate(_list(data.get("tools") or [], "tools"))),
        tool_choice=_tool_choice(data.get("tool_choice")), stream=stream,
        reasoning=_reasoning(data.get("thinking")),
        options=options, tags=_tags(data))


# -- responses --------------------------------------------------------------------------


def _usage(usage: Usage) -> dict[str, Any]:
    """Anthropic's usage: ``input_tokens`` is the *uncached* part of the prompt (ours counts
    every prompt token), cache writes split by lifetime."""
    return {"input_tokens": usage.input_tokens - usage.cache_read_tokens
            - usage.cache_write_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_input_tokens": usage.cache_read_tokens,
            "cache_creation_input_tokens": usage.cache_write_tokens,
            "cache_creation": {"ephemeral_5m_input_tokens": usage.cache_write_5m_tokens,
                               "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens}}


def _arguments(text: str) -> Any:
    try:
        return json.loads(text or "{}")
    except ValueError:
        return {"_raw": text}


def _thinking_json(part: ThinkingPart) -> dict[str, Any]:
    if part.data is not None and not part.text:
        return {"type": "redacted_thinking", "data": part.data}
    return {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}


def message_json(response: ChatResponse, *, id: str) -> dict[str, Any]:
    """A ``message`` object (``model``: the model that answered)."""
    content: list[dict[str, Any]] = [_thinking_json(p) for p in response.message.thinking]
    if response.text or not response.tool_calls:
        content.append({"type": "text", "text": response.text})
    content.extend({"type": "tool_use", "id": c.id, "name": c.name,
                    "input": _arguments(c.arguments)} for c in response.tool_calls)
    return {"id": response.id if response.id.startswith("msg_") else id, "type": "message",
            "role": "assistant", "model": response.model, "content": content,
            "stop_reason": stop_reason(response.finish_reason), "stop_sequence": None,
            "usage": _usage(response.usage)}


def sse_event(name: str, data: Mapping[str, Any]) -> bytes:
    """One ``event: NAME`` / ``data: JSON`` SSE event."""
    return (b"event: " + name.encode() + b"\ndata: "
            + json.dumps(data, separators=(",", ":")).encode() + b"\n\n")


class StreamEvents:
    """Turns our chunks into Anthropic's event sequence (one text block, then tool blocks)."""

    def __init__(self, *, id: str, model: str) -> None:
        self.id, self.model = id, model
        self._open: int | None = None  # index of the open block
        self._next = 0
        self._tools: dict[int, int] = {}  # our tool-call index -> block index
        self._thoughts: dict[int, int] = {}  # our thinking index -> block index
        self._text_block: int | None = None

    def start(self) -> Iterator[bytes]:
        message: dict[str, Any] = {"id": self.id, "type": "message", "role": "assistant",
                                   "model": self.model,
                   "content": [], "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": 0, "output_tokens": 0}}
        yield sse_event("message_start", {"type": "message_start", "message": message})
        yield sse_event("ping", {"type": "ping"})

    def _switch(self, block: dict[str, Any]) -> Iterator[bytes]:
        yield from self._close()
        self._open = self._next
        self._next += 1
        yield sse_event("content_block_start", {"type": "content_block_start",
                                                "index": self._open, "content_block": block})

    def _close(self) -> Iterator[bytes]:
        if self._open is not None:
            yield sse_event("content_block_stop", {"type": "content_block_stop",
                                                   "index": self._open})
            self._open = None

    def _delta(self, index: int, delta: dict[str, Any]) -> bytes:
        return sse_event("content_block_delta", {"type": "content_block_delta",
                                                 "index": index, "delta": delta})

    def chunk(self, chunk: Chunk) -> Iterator[bytes]:
        for delta in chunk.thinking:
            yield from self._thinking(delta)
        if chunk.text:
            if self._text_block is None or self._open != self._text_block:
                yield from self._switch({"type": "text", "text": ""})
                self._text_block = self._open
            assert self._open is not None
            yield self._delta(self._open, {"type": "text_delta", "text": chunk.text})
        for call in chunk.tool_calls:
            if call.index not in self._tools:
                yield from self._switch({"type": "tool_use", "id": call.id or "",
                                         "name": call.name or "", "input": {}})
                assert self._open is not None
                self._tools[call.index] = self._open
            if call.arguments:
                yield self._delta(self._tools[call.index],
                                  {"type": "input_json_delta", "partial_json": call.arguments})

    def _thinking(self, delta: ThinkingDelta) -> Iterator[bytes]:
        if delta.index not in self._thoughts:
            block: dict[str, Any] = ({"type": "redacted_thinking", "data": delta.data}
                                     if delta.data is not None and not delta.text
                                     else {"type": "thinking", "thinking": ""})
            yield from self._switch(block)
            assert self._open is not None
            self._thoughts[delta.index] = self._open
            if block["type"] == "redacted_thinking":
                return
        index = self._thoughts[delta.index]
        if delta.text:
            yield self._delta(index, {"type": "thinking_delta", "thinking": delta.text})
        if delta.signature:
            yield self._delta(index, {"type": "signature_delta",
                                      "signature": delta.signature})

    def end(self, response: ChatResponse) -> Iterator[bytes]:
        if self._next == 0:  # an empty answer still has one (empty) text block
            yield from self._switch({"type": "text", "text": ""})
        yield from self._close()
        yield sse_event("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(response.finish_reason),
                      "stop_sequence": None},
            "usage": _usage(response.usage)})
        yield sse_event("message_stop", {"type": "message_stop"})

    @staticmethod
    def error(status: int, message: str) -> bytes:
        return sse_event("error", error_body(status, message))


def check_model(name: Any) -> str:
    """``model`` is required by the Messages API."""
    if name is None:
        raise InvalidRequest("model: required: the name of a model the gateway lists")
    return _str(name, "model")
