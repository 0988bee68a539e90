"""The Anthropic Messages API wire format, both ways — pure functions, no I/O.

What lives here: the ``/v1/messages`` body from a :class:`ChatRequest` (system messages
lifted into ``system``, ``max_tokens`` always set, tools as ``input_schema``, assistant tool
calls as ``tool_use`` blocks, tool messages as ``tool_result`` blocks in a user turn),
reading a ``message`` answer, the error of an ``error`` object, and
:class:`AnthropicStreamDecoder`, the SSE state machine over every event type. A body of the
wrong shape raises :class:`MalformedResponse`. What must not: sockets, httpx, clocks.

Reference: https://docs.anthropic.com/en/api/messages and .../messages-streaming
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from insightforge.errors import InsightForgeError, InvalidRequest, MalformedResponse
from insightforge.types import ChatRequest, Chunk, Message, ToolCall, ToolCallDelta, Usage
from providers._errors import error_from_status
from providers._lines import SSEDecoder, decode_json
from providers._wire import arguments_object, arguments_text, get, json_schema, optional_int

__all__ = ["NAME", "AnthropicStreamDecoder", "chat_body", "error_of", "finish_reason",
           "parse_message"]

NAME = "anthropic"
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
           "tool_use": "tool_calls", "refusal": "content_filter", "pause_turn": "stop",
           "model_context_window_exceeded": "length"}
_ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401,
                 "billing_error": 402, "permission_error": 403, "not_found_error": 404,
                 "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
                 "timeout_error": 504, "overloaded_error": 529}
_EVENTS = frozenset({"error", "message_start", "content_block_start", "content_block_delta",
                     "message_delta", "message_stop"})
_JSON_HINT = "Answer with one JSON object only, no prose and no code fence."


# -- requests ---------------------------------------------------------------------------

def _append(out: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Add blocks to the conversation, merging into the last turn of the same role."""
    if out and out[-1]["role"] == role:
        out[-1]["content"].extend(blocks)
    else:
        out.append({"role": role, "content": blocks})


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name,
                       "input": arguments_object(NAME, call.arguments, call.name)})
    return blocks


def _tool_result(message: Message) -> dict[str, Any]:
    if not message.tool_call_id:
        raise InvalidRequest(f"{NAME}: a tool message needs tool_call_id (the id of the "
                             "tool call it answers).")
    return {"type": "tool_result", "tool_use_id": message.tool_call_id,
            "content": message.content}


def messages(request: ChatRequest) -> tuple[list[str], list[dict[str, Any]]]:
    """``(system texts, messages)``: tool results become user turns, roles alternate."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "system":
            if message.content:
                system.append(message.content)
        elif message.role == "tool":
            _append(out, "user", [_tool_result(message)])
        elif message.role == "user":
            _append(out, "user", [{"type": "text", "text": message.content}])
        else:
            blocks = _assistant_blocks(message)
            if blocks:
                _append(out, "assistant", blocks)
    if not out:
        raise InvalidRequest(f"{NAME}: the Messages API needs at least one user message "
                             "besides the system prompt.")
    for turn in out:  # a lone text block travels as a plain string, as the docs show it
        content = turn["content"]
        if len(content) == 1 and content[0]["type"] == "text":
            turn["content"] = content[0]["text"]
    return system, out


def _tool_choice(choice: str | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice in ("required", "any"):
        return {"type": "any"}
    return {"type": "tool", "name": choice}


def chat_body(request: ChatRequest, *, model: str, max_tokens: int,
              stream: bool) -> dict[str, Any]:
    """The ``/v1/messages`` JSON body; ``request.options`` merge in at the top level."""
    system, turns = messages(request)
    json_mode, schema = json_schema(request.response_format)
    if json_mode:  # no JSON mode in the Messages API: ask in the system prompt
        hint = _JSON_HINT if schema is None else (
            f"{_JSON_HINT} It must match this JSON Schema: {json.dumps(schema)}")
        system.append(hint)
    body: dict[str, Any] = {"model": model, "max_tokens": request.max_tokens or max_tokens,
                            "messages": turns}
    if system:
        body["system"] = "\n\n".join(system)
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.tools:
        body["tools"] = [{"name": t.name, "description": t.description,
                          "input_schema": dict(t.parameters)} for t in request.tools]
        choice = _tool_choice(request.tool_choice)
        if choice is not None:
            body["tool_choice"] = choice
    if stream:
        body["stream"] = True
    body.update(request.options)
    return body


# -- answers ----------------------------------------------------------------------------

def finish_reason(stop_reason: Any) -> str | None:
    """Anthropic's ``stop_reason`` in our words."""
    if not isinstance(stop_reason, str):
        return None
    return _FINISH.get(stop_reason, stop_reason)


def usage(data: Mapping[str, Any]) -> Usage:
    """Tokens billed: input counts cache writes and reads too (a safe upper bound)."""
    total_in = (optional_int(data, "input_tokens")
                + optional_int(data, "cache_creation_input_tokens")
                + optional_int(data, "cache_read_input_tokens"))
    return Usage(total_in, optional_int(data, "output_tokens"))


def error_of(data: Mapping[str, Any]) -> InsightForgeError | None:
    """The mapped error of an ``{"type": "error", "error": {...}}`` object, else ``None``."""
    if data.get("type") != "error":
        return None
    error = data.get("error")
    kind = error.get("type") if isinstance(error, Mapping) else None
    status = _ERROR_STATUS.get(kind, 500) if isinstance(kind, str) else 500
    return error_from_status(NAME, status, json.dumps(data))


def parse_message(data: Mapping[str, Any]) -> tuple[Message, str | None, Usage, str, str]:
    """``(message, finish_reason, usage, model, id)`` of a ``message`` answer."""
    error = error_of(data)
    if error is not None:
        raise error
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in get(NAME, data, "content", list):
        kind = get(NAME, block, "type", str, where="content block")
        if kind == "text":
            texts.append(get(NAME, block, "text", str, where="text block"))
        elif kind == "tool_use":
            calls.append(ToolCall(get(NAME, block, "id", str, where="tool_use block"),
                                  get(NAME, block, "name", str, where="tool_use block"),
                                  arguments_text(NAME, block.get("input"))))
    message = Message("assistant", "".join(texts), tool_calls=calls)
    return (message, finish_reason(data.get("stop_reason")),
            usage(get(NAME, data, "usage", dict, {})), get(NAME, data, "model", str, ""),
            get(NAME, data, "id", str, ""))


class AnthropicStreamDecoder:
    """SSE lines of a streamed message in, chunks out; ``done`` after ``message_stop``.

    Handles message_start (id, model, input usage), content_block_start (text or
    tool_use), content_block_delta (text_delta, input_json_delta; others such as
    thinking_delta are skipped), content_block_stop, message_delta (stop_reason, output
    usage), message_stop, ping, ``error`` (raised, mapped) and unknown future events
    (skipped, as Anthropic's versioning policy asks).

    Attributes:
        done: ``message_stop`` arrived. id, model: from ``message_start``.
    """

    def __init__(self) -> None:
        self.done = False
        self.id = ""
        self.model = ""
        self._sse = SSEDecoder()
        self._usage = Usage()
        self._reported = False

    def feed(self, line: str) -> list[Chunk]:
        event = self._sse.feed(line)
        if event is None:
            return []
        data = decode_json(NAME, event.data)
        kind = data.get("type", event.event)
        if not isinstance(kind, str) or kind not in _EVENTS:
            return []  # ping, content_block_stop and events added after this was written
        handler: Any = getattr(self, f"_on_{kind}")
        chunks: list[Chunk] = handler(data)
        return chunks

    def _on_error(self, data: dict[str, Any]) -> list[Chunk]:
        raise error_of({**data, "type": "error"}) or MalformedResponse(
            f"{NAME}: unreadable error event.", provider=NAME)

    def _on_message_start(self, data: dict[str, Any]) -> list[Chunk]:
        message = get(NAME, data, "message", dict, where="message_start")
        self.id = get(NAME, message, "id", str, "", where="message_start.message")
        self.model = get(NAME, message, "model", str, "", where="message_start.message")
        self._usage = usage(get(NAME, message, "usage", dict, {}, where="message"))
        return []

    def _on_content_block_start(self, data: dict[str, Any]) -> list[Chunk]:
        index = get(NAME, data, "index", int, where="content_block_start")
        block = get(NAME, data, "content_block", dict, where="content_block_start")
        kind = get(NAME, block, "type", str, where="content_block")
        if kind == "tool_use":
            start = block.get("input")
            arguments = arguments_text(NAME, start) if start else ""
            return [Chunk(tool_calls=(ToolCallDelta(
                index, get(NAME, block, "id", str, where="tool_use block"),
                get(NAME, block, "name", str, where="tool_use block"), arguments),))]
        if kind == "text":
            text = get(NAME, block, "text", str, "", where="text block")
            return [Chunk(text)] if text else []
        return []

    def _on_content_block_delta(self, data: dict[str, Any]) -> list[Chunk]:
        index = get(NAME, data, "index", int, where="content_block_delta")
        delta = get(NAME, data, "delta", dict, where="content_block_delta")
        kind = get(NAME, delta, "type", str, where="delta")
        if kind == "text_delta":
            return [Chunk(get(NAME, delta, "text", str, where="text_delta"))]
        if kind == "input_json_delta":
            part = get(NAME, delta, "partial_json", str, where="input_json_delta")
            return [Chunk(tool_calls=(ToolCallDelta(index, arguments=part),))] if part else []
        return []

    def _on_message_delta(self, data: dict[str, Any]) -> list[Chunk]:
        delta = get(NAME, data, "delta", dict, {}, where="message_delta")
        counts = get(NAME, data, "usage", dict, {}, where="message_delta")
        later = usage(counts)
        self._usage = Usage(later.input_tokens or self._usage.input_tokens,
                            later.output_tokens if "output_tokens" in counts
                            else self._usage.output_tokens)
        self._reported = True
        return [Chunk(finish_reason=finish_reason(delta.get("stop_reason")),
                      usage=self._usage)]

    def _on_message_stop(self, data: dict[str, Any]) -> list[Chunk]:
        self.done = True
        return [] if self._reported else [Chunk(usage=self._usage)]
