"""The Anthropic Messages API wire format, answer side — pure functions, no I/O.

What lives here: reading a ``message`` answer (text, ``tool_use``, signed ``thinking`` and
``redacted_thinking`` blocks; the forced answer tool's input as the JSON answer), usage
with its cache parts (Anthropic's ``input_tokens`` excludes cache reads and writes; ours
counts every prompt token), the error of an ``error`` object, and
:class:`AnthropicStreamDecoder`, the SSE state machine over every event type. A body of the
wrong shape raises :class:`MalformedResponse`. The request side is
:mod:`providers._anthropic_request` (re-exported here). What must not: sockets, httpx,
clocks.

Reference: https://docs.anthropic.com/en/api/messages and .../messages-streaming
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from insightforge.errors import InsightForgeError, MalformedResponse
from insightforge.types import (
    Chunk,
    Message,
    ThinkingDelta,
    ThinkingPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from insightforge.types.messages import assistant_message
from providers._anthropic_request import (
    NAME,
    answer_tool,
    chat_body,
    continues_prefill,
    messages,
    model_version,
)
from providers._errors import error_from_status
from providers._lines import SSEDecoder, decode_json
from providers._wire import arguments_text, get, optional_int

__all__ = ["NAME", "AnthropicStreamDecoder", "answer_tool", "chat_body", "continues_prefill",
           "error_of", "finish_reason", "messages", "model_version", "parse_message", "usage"]

_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
           "tool_use": "tool_calls", "refusal": "content_filter", "pause_turn": "stop",
           "model_context_window_exceeded": "length"}
_ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401,
                 "billing_error": 402, "permission_error": 403, "not_found_error": 404,
                 "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
                 "timeout_error": 504, "overloaded_error": 529}
_EVENTS = frozenset({"error", "message_start", "content_block_start", "content_block_delta",
                     "message_delta", "message_stop"})
_COUNTS = ("input_tokens", "output_tokens", "cache_creation_input_tokens",
           "cache_read_input_tokens")


# -- answers ----------------------------------------------------------------------------

def finish_reason(stop_reason: Any) -> str | None:
    """Anthropic's ``stop_reason`` in our words."""
    if not isinstance(stop_reason, str):
        return None
    return _FINISH.get(stop_reason, stop_reason)


def usage(data: Mapping[str, Any]) -> Usage:
    """Tokens billed. Anthropic's ``input_tokens`` are the uncached ones; ours count every
    prompt token: ``input_tokens + cache_creation_input_tokens + cache_read_input_tokens``.
    The one-hour part of the writes is ``cache_creation.ephemeral_1h_input_tokens``."""
    written = optional_int(data, "cache_creation_input_tokens")
    read = optional_int(data, "cache_read_input_tokens")
    split = data.get("cache_creation")
    hour = optional_int(split, "ephemeral_1h_input_tokens") if isinstance(split, Mapping) else 0
    try:
        return Usage(optional_int(data, "input_tokens") + written + read,
                     optional_int(data, "output_tokens"), cache_read_tokens=read,
                     cache_write_tokens=written, cache_write_1h_tokens=hour)
    except ValueError as exc:
        raise MalformedResponse(f"{NAME}: usage counts do not add up ({exc}).",
                                provider=NAME) from None


def error_of(data: Mapping[str, Any]) -> InsightForgeError | None:
    """The mapped error of an ``{"type": "error", "error": {...}}`` object, else ``None``."""
    if data.get("type") != "error":
        return None
    error = data.get("error")
    kind = error.get("type") if isinstance(error, Mapping) else None
    status = _ERROR_STATUS.get(kind, 500) if isinstance(kind, str) else 500
    return error_from_status(NAME, status, json.dumps(data))


def _thinking_part(block: Mapping[str, Any], kind: str) -> ThinkingPart:
    if kind == "redacted_thinking":
        return ThinkingPart(data=get(NAME, block, "data", str, where="redacted_thinking block"))
    return ThinkingPart(get(NAME, block, "thinking", str, "", where="thinking block"),
                        signature=get(NAME, block, "signature", str, None,
                                      where="thinking block"))


def parse_message(data: Mapping[str, Any], answer: str | None = None
                  ) -> tuple[Message, str | None, Usage, str, str]:
    """``(message, finish_reason, usage, model, id)`` of a ``message`` answer.

    ``answer``: the forced answer tool's name (structured output through tool use); its
    input becomes the answer text, and the answer a plain ``stop``.
    """
    error = error_of(data)
    if error is not None:
        raise error
    texts: list[str] = []
    calls: list[ToolCall] = []
    thinking: list[ThinkingPart] = []
    finish = finish_reason(data.get("stop_reason"))
    for block in get(NAME, data, "content", list):
        kind = get(NAME, block, "type", str, where="content block")
        if kind == "text":
            texts.append(get(NAME, block, "text", str, where="text block"))
        elif kind in ("thinking", "redacted_thinking"):
            thinking.append(_thinking_part(block, kind))
        elif kind == "tool_use":
            name = get(NAME, block, "name", str, where="tool_use block")
            arguments = arguments_text(NAME, block.get("input"))
            if name == answer:
                texts.append(arguments)
                finish = "stop" if finish == "tool_calls" else finish
                continue
            calls.append(ToolCall(get(NAME, block, "id", str, where="tool_use block"),
                                  name, arguments))
    message = assistant_message("".join(texts), thinking, calls)
    return (message, finish, usage(get(NAME, data, "usage", dict, {})),
            get(NAME, data, "model", str, ""), get(NAME, data, "id", str, ""))


class AnthropicStreamDecoder:
    """SSE lines of a streamed message in, chunks out; ``done`` after ``message_stop``.

    Handles message_start (id, model, input usage with its cache parts),
    content_block_start (text, tool_use, thinking, redacted_thinking), content_block_delta
    (text_delta, input_json_delta, thinking_delta, signature_delta; others are skipped),
    content_block_stop, message_delta (stop_reason, output usage; cumulative input counts
    when sent), message_stop, ping, ``error`` (raised, mapped) and unknown future events
    (skipped, as Anthropic's versioning policy asks). ``answer``: the forced answer tool
    (structured output through tool use), whose input streams as text.

    Attributes:
        done: ``message_stop`` arrived. id, model: from ``message_start``.
    """

    def __init__(self, answer: str | None = None) -> None:
        self.done = False
        self.id = ""
        self.model = ""
        self._sse = SSEDecoder()
        self._counts: dict[str, Any] = {}
        self._usage = Usage()
        self._reported = False
        self._answer = answer
        self._answer_block: int | None = None

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
        self._counts = dict(get(NAME, message, "usage", dict, {}, where="message"))
        self._usage = usage(self._counts)
        return []

    def _on_content_block_start(self, data: dict[str, Any]) -> list[Chunk]:
        index = get(NAME, data, "index", int, where="content_block_start")
        block = get(NAME, data, "content_block", dict, where="content_block_start")
        kind = get(NAME, block, "type", str, where="content_block")
        if kind == "tool_use":
            start = block.get("input")
            arguments = arguments_text(NAME, start) if start else ""
            name = get(NAME, block, "name", str, where="tool_use block")
            if name == self._answer:
                self._answer_block = index
                return [Chunk(arguments)] if arguments else []
            return [Chunk(tool_calls=(ToolCallDelta(
                index, get(NAME, block, "id", str, where="tool_use block"), name,
                arguments),))]
        if kind == "text":
            text = get(NAME, block, "text", str, "", where="text block")
            return [Chunk(text)] if text else []
        if kind in ("thinking", "redacted_thinking"):
            part = _thinking_part(block, kind)
            delta = ThinkingDelta(index, part.text, part.signature, part.data)
            return [Chunk(thinking=(delta,))]
        return []

    def _on_content_block_delta(self, data: dict[str, Any]) -> list[Chunk]:
        index = get(NAME, data, "index", int, where="content_block_delta")
        delta = get(NAME, data, "delta", dict, where="content_block_delta")
        kind = get(NAME, delta, "type", str, where="delta")
        if kind == "text_delta":
            return [Chunk(get(NAME, delta, "text", str, where="text_delta"))]
        if kind == "input_json_delta":
            part = get(NAME, delta, "partial_json", str, where="input_json_delta")
            if not part:
                return []
            if index == self._answer_block:
                return [Chunk(part)]
            return [Chunk(tool_calls=(ToolCallDelta(index, arguments=part),))]
        if kind == "thinking_delta":
            text = get(NAME, delta, "thinking", str, where="thinking_delta")
            return [Chunk(thinking=(ThinkingDelta(index, text),))]
        if kind == "signature_delta":
            signature = get(NAME, delta, "signature", str, where="signature_delta")
            return [Chunk(thinking=(ThinkingDelta(index, signature=signature),))]
        return []

    def _on_message_delta(self, data: dict[str, Any]) -> list[Chunk]:
        delta = get(NAME, data, "delta", dict, {}, where="message_delta")
        counts = get(NAME, data, "usage", dict, {}, where="message_delta")
        # Counts sent here are cumulative and win; the rest stay as message_start said.
        self._counts.update({k: counts[k] for k in (*_COUNTS, "cache_creation")
                             if counts.get(k) is not None})
        self._usage = usage(self._counts)
        self._reported = True
        finish = finish_reason(delta.get("stop_reason"))
        if finish == "tool_calls" and self._answer_block is not None:
            finish = "stop"
        return [Chunk(finish_reason=finish, usage=self._usage)]

    def _on_message_stop(self, data: dict[str, Any]) -> list[Chunk]:
        if not self.id and not self.model:  # never started: not a message at all
            raise MalformedResponse(f"{NAME} ended a stream that never began (no "
                                    "message_start).", provider=NAME)
        self.done = True
        return [] if self._reported else [Chunk(usage=self._usage)]
