"""The Anthropic Messages API, server side: request JSON in, messages and SSE events out.

What lives here: pure functions — :func:`parse_messages` (``POST /v1/messages`` body ->
:class:`~insightforge.ChatRequest`), :func:`message_json` (a ``message`` object),
:class:`StreamEvents` (the SSE event sequence: ``message_start``, ``content_block_start``,
``ping``, ``content_block_delta``, ``content_block_stop``, ``message_delta``,
``message_stop``; ``error`` for a failure mid-stream) and :func:`error_body` (Anthropic's
``{"type": "error", "error": {"type", "message"}}``). Anything we cannot read raises
:class:`~insightforge.errors.InvalidRequest` naming the field.

Content: text blocks, ``tool_use`` (assistant) and ``tool_result`` (user) blocks. Other
block types are refused for now; when :class:`~insightforge.Message` gains content parts,
:func:`_blocks` is the one place that maps them. What must not live here: sockets, the stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from insightforge.errors import InvalidRequest
from insightforge.gateway.wire import _bad, _int, _kind, _list, _number, _obj, _str
from insightforge.types import ChatRequest, ChatResponse, Chunk, Message, Tool, ToolCall, Usage

__all__ = ["ERROR_TYPES", "StreamEvents", "error_body", "message_json", "parse_messages",
           "sse_event", "stop_reason"]

_FIELDS = frozenset({"model", "messages", "system", "max_tokens", "metadata",
                     "stop_sequences", "stream", "temperature", "top_p", "top_k", "tools",
                     "tool_choice", "service_tier"})
_REFUSED = {
    "thinking": "extended thinking is billed as output the budget cannot see yet",
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


def _text_blocks(value: Any, path: str) -> str:
    if isinstance(value, str):
        return value
    parts = []
    for i, block in enumerate(_list(value, path)):
        block = _obj(block, f"{path}[{i}]")
        if block.get("type") != "text":
            raise _bad(f"{path}[{i}].type", f"expected a text block, got {block.get('type')!r}")
        parts.append(_str(block.get("text"), f"{path}[{i}].text"))
    return "".join(parts)


def _blocks(role: str, value: Any, path: str) -> list[Message]:
    """One Anthropic message -> our messages (a tool_result block is a ``tool`` message)."""
    if isinstance(value, str):
        return [Message(role, value)]
    texts: list[str] = []
    calls: list[ToolCall] = []
    results: list[Message] = []
    for i, block in enumerate(_list(value, path)):
        where = f"{path}[{i}]"
        block = _obj(block, where)
        kind = block.get("type")
        if kind == "text":
            texts.append(_str(block.get("text"), f"{where}.text"))
        elif kind == "tool_use" and role == "assistant":
            calls.append(ToolCall(_str(block.get("id"), f"{where}.id"),
                                  _str(block.get("name"), f"{where}.name"),
                                  json.dumps(_obj(block.get("input", {}), f"{where}.input"))))
        elif kind == "tool_result" and role == "user":
            content = block.get("content", "")
            results.append(Message("tool", _text_blocks(content, f"{where}.content"),
                                   tool_call_id=_str(block.get("tool_use_id"),
                                                     f"{where}.tool_use_id")))
        else:
            raise _bad(f"{where}.type", f"{kind!r} blocks are not supported here (text, "
                       "tool_use from the assistant, tool_result from the user)")
    out = list(results)
    if texts or calls or not results:
        out.append(Message(role, "".join(texts), tool_calls=tuple(calls)))
    return out


def _tool(value: Any, path: str) -> Tool:
    data = _obj(value, path)
    if data.get("type") not in (None, "custom"):
        raise _bad(f"{path}.type", f"only custom (client) tools are supported, got "
                   f"{data.get('type')!r}")
    schema = data.get("input_schema")
    return Tool(_str(data.get("name"), f"{path}.name"),
                _str(data.get("description", ""), f"{path}.description"),
                _obj(schema, f"{path}.input_schema") if schema is not None
                else {"type": "object", "properties": {}})


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
        text = _text_blocks(system, "system")
        if text:
            messages.append(Message("system", text))
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
        options={} if top_k is None else {"top_k": top_k}, tags=_tags(data))


# -- responses --------------------------------------------------------------------------


def _usage(usage: Usage) -> dict[str, int]:
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "cache_read_input_tokens": usage.cache_read_tokens,
            "cache_creation_input_tokens": usage.cache_write_tokens}


def _arguments(text: str) -> Any:
    try:
        return json.loads(text or "{}")
    except ValueError:
        return {"_raw": text}


def message_json(response: ChatResponse, *, id: str) -> dict[str, Any]:
    """A ``message`` object (``model``: the model that answered)."""
    content: list[dict[str, Any]] = []
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
