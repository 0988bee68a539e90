"""Deterministic replies: pure functions shared by every wire format.

What lives here: the vendor-neutral chat input (`ChatInput`, `Turn`), the neutral reply
(`Reply`, `EmulatedToolCall`), and the rules that turn one into the other — echo text, token counts,
``max_tokens`` and stop-sequence cuts, tool calls (one per tool offered unless parallel
calls are off or a tool is forced), JSON mode and JSON Schemas (a conforming object), a
reasoning text with its signature, stream pieces — plus the deterministic embedding
vectors.

Rules of this file: no I/O, no clock, no randomness, no vendor names. The same `ChatInput`
always gives the same `Reply`, whichever wire format asked for it; the wire modules only
translate vendor JSON to `ChatInput` and `Reply` back to vendor JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from .schema_instance import instance, tool_arguments

__all__ = [
    "ChatInput",
    "Finish",
    "Reply",
    "EmulatedToolCall",
    "Turn",
    "continued",
    "count_tokens",
    "cut_words",
    "embed_vector",
    "filtered",
    "input_tokens",
    "make_reply",
    "sign",
    "stream_pieces",
]

Finish = Literal["stop", "length", "tool_calls", "content_filter"]
"""Neutral finish reasons; each wire module maps them to its vendor's words."""

_WORD = re.compile(r"\S+")
_PIECE = re.compile(r"\S+\s*")
DEFAULT_DIMENSIONS = 8


@dataclass(frozen=True, slots=True)
class Turn:
    """One message reduced to what the emulator needs.

    Attributes:
        role: "system", "user", "assistant" or "tool" (a tool result, whatever the vendor).
        text: the message's text content ("" when it has none, e.g. a bare tool call).
    """

    role: str
    text: str


@dataclass(frozen=True, slots=True)
class ChatInput:
    """A chat request, vendor-neutral.

    Attributes:
        model: the model name to echo back.
        turns: the conversation, system prompt first when there is one.
        max_tokens: the output limit in words, or None for no limit.
        stop: stop sequences; the reply is cut before the first one found.
        tools: the names of the tools offered, in order.
        tool_choice_none: True when the caller forbade tool calls.
        forced_tool: the tool the caller forced by name, if any.
        json_mode: True when the caller asked for a JSON reply.
        schema: the JSON Schema the reply must follow, if any (implies JSON).
        tool_schemas: the parameter schemas of `tools`, in order (may be shorter).
        reasoning: True when the model reasons before answering.
        parallel: False when the caller allows at most one tool call.
        prefill: the text of a final assistant message the model continues (a vendor
            that continues prefills sets it), or None.
    """

    model: str
    turns: tuple[Turn, ...]
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    tool_choice_none: bool = False
    forced_tool: str | None = None
    json_mode: bool = False
    schema: Any = None
    tool_schemas: tuple[Any, ...] = ()
    reasoning: bool = False
    parallel: bool = True
    prefill: str | None = None


@dataclass(frozen=True, slots=True)
class EmulatedToolCall:
    """A tool call the emulated model makes.

    Attributes:
        name: the tool's name.
        arguments: the arguments as a JSON text (``{"input": <last user content>}``, or an
            object following the tool's schema when that does not admit ``input``).
    """

    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Reply:
    """The emulated model's answer, vendor-neutral.

    Attributes:
        text: the reply text ("" when the reply is a tool call or was filtered).
        tool_calls: the tool calls, if the model calls tools (several: parallel calls).
        finish: why the reply ended.
        stop_sequence: the stop sequence that ended the reply, if one did.
        input_tokens: words in the prompt plus 3 per message.
        output_tokens: words in the reply (or in the tool calls' arguments), plus the
            reasoning tokens.
        thinking: the reasoning text ("" when the model did not reason).
        reasoning_tokens: words in `thinking` (a part of `output_tokens`).
    """

    text: str
    tool_calls: tuple[EmulatedToolCall, ...]
    finish: Finish
    stop_sequence: str | None
    input_tokens: int
    output_tokens: int
    thinking: str = ""
    reasoning_tokens: int = 0

    @property
    def tool_call(self) -> EmulatedToolCall | None:
        """The first tool call, if any."""
        return self.tool_calls[0] if self.tool_calls else None


def count_tokens(text: str) -> int:
    """The emulator's tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def input_tokens(messages: Iterable[Turn]) -> int:
    """Prompt tokens: the words of every message (system included) plus 3 per message."""
    return sum(count_tokens(turn.text) + 3 for turn in messages)


def cut_words(text: str, limit: int) -> str:
    """The prefix of `text` holding its first `limit` words (original spacing kept)."""
    if limit <= 0:
        return ""
    for index, match in enumerate(_WORD.finditer(text), start=1):
        if index == limit:
            return text[: match.end()]
    return text


def stream_pieces(text: str) -> list[str]:
    """Split `text` into one-word pieces whose concatenation is exactly `text`.

    Each piece is a word plus the whitespace after it; leading whitespace joins the first
    piece. An empty or blank text gives no piece or a single blank piece.
    """
    pieces = _PIECE.findall(text)
    if not pieces:
        return [text] if text else []
    lead = len(text) - len(text.lstrip())
    if lead:
        pieces[0] = text[:lead] + pieces[0]
    return pieces


def _last_user_text(turns: Sequence[Turn]) -> str:
    for turn in reversed(turns):
        if turn.role == "user":
            return turn.text
    return turns[-1].text if turns else ""


def _tool_calls(chat: ChatInput) -> tuple[EmulatedToolCall, ...]:
    if not chat.tools or chat.tool_choice_none or not chat.turns:
        return ()
    if chat.turns[-1].role != "user":
        return ()
    names = chat.tools if chat.parallel else chat.tools[:1]
    if chat.forced_tool is not None and chat.forced_tool in chat.tools:
        names = (chat.forced_tool,)
    text = chat.turns[-1].text
    schemas = dict(zip(chat.tools, chat.tool_schemas, strict=False))
    return tuple(EmulatedToolCall(name, json.dumps(tool_arguments(schemas.get(name), text)))
                 for name in names)


def _source(chat: ChatInput) -> str:
    turns = chat.turns
    return turns[-1].text if turns and turns[-1].role == "tool" else _last_user_text(turns)


def _base_text(chat: ChatInput) -> str:
    source = _source(chat)
    if chat.schema is not None:
        return json.dumps(instance(chat.schema, source))
    return json.dumps({"echo": source}) if chat.json_mode else "Echo: " + source


def sign(thinking: str) -> str:
    """The emulated vendor's signature over a reasoning text (checked when sent back)."""
    return "sig_" + hashlib.sha256(b"insightforge-emulator\x00" + thinking.encode()).hexdigest()


def _apply_stop(text: str, stops: Sequence[str]) -> tuple[str, str | None]:
    found: tuple[int, str] | None = None
    for stop in stops:
        at = text.find(stop) if stop else -1
        if at >= 0 and (found is None or at < found[0]):
            found = (at, stop)
    return (text, None) if found is None else (text[: found[0]], found[1])


def make_reply(chat: ChatInput) -> Reply:
    """The deterministic answer to `chat` (see the module docstring for the rules)."""
    if chat.prefill is not None and chat.turns:
        return continued(make_reply(replace(chat, turns=chat.turns[:-1], prefill=None)),
                         chat.prefill, input_tokens(chat.turns))
    prompt = input_tokens(chat.turns)
    thinking = "Thinking about: " + _source(chat) if chat.reasoning else ""
    thought = count_tokens(thinking)
    calls = _tool_calls(chat)
    if calls:
        used = sum(count_tokens(call.arguments) for call in calls)
        return Reply("", calls, "tool_calls", None, prompt, used + thought, thinking, thought)
    text, stop_sequence = _apply_stop(_base_text(chat), chat.stop)
    finish: Finish = "stop"
    if chat.max_tokens is not None and count_tokens(text) > chat.max_tokens:
        text, stop_sequence, finish = cut_words(text, chat.max_tokens), None, "length"
    return Reply(text, (), finish, stop_sequence, prompt, count_tokens(text) + thought,
                 thinking, thought)


def continued(reply: Reply, prefill: str, prompt: int) -> Reply:
    """`reply` as the continuation of an assistant `prefill`: the text after it (the whole
    text when the answer does not begin with it), billed with the prefill as input."""
    if reply.tool_calls:
        return replace(reply, input_tokens=prompt)
    rest = reply.text[len(prefill):] if reply.text.startswith(prefill) else reply.text
    return replace(reply, text=rest, input_tokens=prompt, output_tokens=count_tokens(rest),
                   thinking="", reasoning_tokens=0)


def filtered(reply: Reply) -> Reply:
    """`reply` as a content filter would leave it: no text, no tool call."""
    return replace(
        reply, text="", tool_calls=(), finish="content_filter", stop_sequence=None,
        output_tokens=0, thinking="", reasoning_tokens=0,
    )


def embed_vector(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """A unit vector of `dimensions` values in [-1, 1], derived from sha256 of `text`."""
    raw = b""
    block = 0
    seed = text.encode("utf-8")
    while len(raw) < 4 * dimensions:
        raw += hashlib.sha256(seed + block.to_bytes(4, "little")).digest()
        block += 1
    values = [
        int.from_bytes(raw[4 * i : 4 * i + 4], "little") / 2**31 - 1.0 for i in range(dimensions)
    ]
    norm = math.sqrt(sum(v * v for v in values))
    if norm == 0.0:
        return [1.0] + [0.0] * (dimensions - 1)
    return [max(-1.0, min(1.0, v / norm)) for v in values]
