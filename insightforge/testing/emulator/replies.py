"""Deterministic replies: pure functions shared by every wire format.

What lives here: the vendor-neutral chat input (`ChatInput`, `Turn`), the neutral reply
(`Reply`, `ToolCall`), and the rules that turn one into the other — echo text, token counts,
``max_tokens`` and stop-sequence cuts, tool calls, JSON mode, stream pieces — plus the
deterministic embedding vectors.

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
from typing import Literal

__all__ = [
    "ChatInput",
    "Finish",
    "Reply",
    "ToolCall",
    "Turn",
    "count_tokens",
    "cut_words",
    "embed_vector",
    "filtered",
    "input_tokens",
    "make_reply",
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
    """

    model: str
    turns: tuple[Turn, ...]
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    tool_choice_none: bool = False
    forced_tool: str | None = None
    json_mode: bool = False


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the emulated model makes.

    Attributes:
        name: the tool's name.
        arguments: the arguments as a JSON text (``{"input": <last user content>}``).
    """

    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Reply:
    """The emulated model's answer, vendor-neutral.

    Attributes:
        text: the reply text ("" when the reply is a tool call or was filtered).
        tool_call: the tool call, if the model calls a tool.
        finish: why the reply ended.
        stop_sequence: the stop sequence that ended the reply, if one did.
        input_tokens: words in the prompt plus 3 per message.
        output_tokens: words in the reply (or in the tool call's arguments).
    """

    text: str
    tool_call: ToolCall | None
    finish: Finish
    stop_sequence: str | None
    input_tokens: int
    output_tokens: int


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


def _tool_call(chat: ChatInput) -> ToolCall | None:
    if not chat.tools or chat.tool_choice_none or not chat.turns:
        return None
    if chat.turns[-1].role != "user":
        return None
    name = chat.tools[0]
    if chat.forced_tool is not None and chat.forced_tool in chat.tools:
        name = chat.forced_tool
    return ToolCall(name, json.dumps({"input": chat.turns[-1].text}))


def _base_text(chat: ChatInput) -> str:
    turns = chat.turns
    source = turns[-1].text if turns and turns[-1].role == "tool" else _last_user_text(turns)
    return json.dumps({"echo": source}) if chat.json_mode else "Echo: " + source


def _apply_stop(text: str, stops: Sequence[str]) -> tuple[str, str | None]:
    found: tuple[int, str] | None = None
    for stop in stops:
        at = text.find(stop) if stop else -1
        if at >= 0 and (found is None or at < found[0]):
            found = (at, stop)
    return (text, None) if found is None else (text[: found[0]], found[1])


def make_reply(chat: ChatInput) -> Reply:
    """The deterministic answer to `chat` (see the module docstring for the rules)."""
    prompt = input_tokens(chat.turns)
    call = _tool_call(chat)
    if call is not None:
        used = count_tokens(call.arguments)
        return Reply("", call, "tool_calls", None, prompt, used)
    text, stop_sequence = _apply_stop(_base_text(chat), chat.stop)
    finish: Finish = "stop"
    if chat.max_tokens is not None and count_tokens(text) > chat.max_tokens:
        text, stop_sequence, finish = cut_words(text, chat.max_tokens), None, "length"
    return Reply(text, None, finish, stop_sequence, prompt, count_tokens(text))


def filtered(reply: Reply) -> Reply:
    """`reply` as a content filter would leave it: no text, no tool call."""
    return replace(
        reply, text="", tool_call=None, finish="content_filter", stop_sequence=None,
        output_tokens=0,
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
