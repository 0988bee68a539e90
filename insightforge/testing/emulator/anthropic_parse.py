"""The Anthropic Messages request, read as a strict server reads it.

What lives here: :func:`parse_request` (a body -> the neutral `ChatInput` and the
:class:`Breakpoint` list of its ``cache_control`` marks; :func:`parse_chat` the first), with
Anthropic's checks: content blocks (``text`` non-empty; ``image`` with a ``base64`` source
of a real png/jpeg/gif/webp of the declared type, or a ``url`` source; ``document`` with a
PDF, a text or a url source; ``tool_use``/``tool_result``; ``thinking`` blocks with the
signature this emulator gave them); ``cache_control`` (``ephemeral``, ttl ``5m``/``1h``,
one-hour marks before five-minute ones, at most 4); ``thinking`` (``enabled`` with
1024 <= budget < max_tokens on models before 4.7, ``adaptive`` from 4.6; no forced tool
choice and no temperature other than 1 with it; a final assistant tool-use turn must
start with its thinking block); ``output_config`` (``effort``; ``format`` json_schema from
Claude 4.5). Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .media import IMAGE_TYPES, check_media, decode_b64, describe
from .replies import ChatInput, Turn, sign
from .wire_common import ApiError, req_str, stops_of

__all__ = ["Breakpoint", "parse_chat", "parse_request", "version"]

_VERSION = re.compile(r"claude-(?:opus|sonnet|haiku|mythos|fable)-(\d+)(?:-(\d{1,2})(?!\d))?")
_EFFORTS = ("low", "medium", "high", "max")


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """A ``cache_control`` mark: the prefix through turn `turn` (-1: the tools) is cached.

    Attributes:
        turn: the index (in `ChatInput.turns`) of the turn it closes, -1 for tools.
        ttl: ``5m`` or ``1h``.
    """

    turn: int
    ttl: str


def version(model: str) -> tuple[int, int]:
    """(major, minor) of a current Claude name; (3, 0) for older or unknown names."""
    found = _VERSION.search(model)
    return (int(found.group(1)), int(found.group(2) or 0)) if found else (3, 0)


def _ttl(block: Mapping[str, Any], where: str) -> str | None:
    mark = block.get("cache_control")
    if mark is None:
        return None
    ttl = mark.get("ttl", "5m") if isinstance(mark, Mapping) else None
    if not isinstance(mark, Mapping) or mark.get("type") != "ephemeral" or ttl not in (
            "5m", "1h"):
        raise ApiError(400, f"{where}.cache_control: expected {{'type': 'ephemeral', "
                            "'ttl': '5m' | '1h'}")
    return str(ttl)


def _source(block: Mapping[str, Any], kind: str, allowed: tuple[str, ...], where: str) -> str:
    source = block.get("source")
    if not isinstance(source, Mapping):
        raise ApiError(400, f"{where}.source: Field required")
    if source.get("type") == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ApiError(400, f"{where}.source.url: an http(s) URL is required")
        return describe(kind, url=url)
    if source.get("type") == "text" and kind == "document":
        text = source.get("data")
        if not isinstance(text, str) or source.get("media_type") != "text/plain":
            raise ApiError(400, f"{where}.source: a text source needs media_type "
                                "'text/plain' and data")
        return describe(kind, "text/plain", text.encode("utf-8"))
    if source.get("type") != "base64":
        raise ApiError(400, f"{where}.source.type: Input should be 'base64' or 'url'")
    declared = source.get("media_type")
    data = decode_b64(source.get("data"), f"{where}.source.data")
    media = check_media(declared if isinstance(declared, str) else "", data, allowed, where)
    return describe(kind, media, data)


def _thinking(block: Mapping[str, Any], where: str) -> None:
    if block["type"] == "redacted_thinking":
        if not isinstance(block.get("data"), str):
            raise ApiError(400, f"{where}.data: Field required")
        return
    text = block.get("thinking")
    if not isinstance(text, str) or block.get("signature") != sign(text):
        raise ApiError(400, f"{where}: Invalid `signature` in `thinking` block")


def _blocks(content: Any, role: str, where: str, marks: list[str | None]) -> tuple[str, bool]:
    """(the text the model sees, whether it holds a tool_result) of one message's content;
    each block's cache ttl goes to `marks`."""
    if isinstance(content, str):
        return content, False
    if not isinstance(content, list):
        raise ApiError(400, f"{where}.content: must be a string or a list of blocks")
    texts, media, result = [], [], False
    for index, block in enumerate(content):
        here = f"{where}.content.{index}"
        kind = block.get("type") if isinstance(block, Mapping) else None
        marks.append(_ttl(block, here) if isinstance(block, Mapping) else None)
        if kind == "text":
            if not isinstance(block.get("text"), str) or not block["text"]:
                raise ApiError(400, f"{here}: text content blocks must be non-empty")
            texts.append(block["text"])
        elif kind == "image":
            media.append(_source(block, "image", IMAGE_TYPES, f"{here}.image"))
        elif kind == "document" and role == "user":
            media.append(_source(block, "document", ("application/pdf",), f"{here}.document"))
        elif kind == "tool_result" and role == "user":
            inner, _ = _blocks(block.get("content") or "", role, here, [])
            texts.append(inner)
            result = True
        elif kind in ("thinking", "redacted_thinking") and role == "assistant":
            _thinking(block, here)
        elif kind != "tool_use" or role != "assistant":
            raise ApiError(400, f"{here}: unexpected block type {kind!r} in a {role} message")
    return "\n".join(texts + media), result


def _tools(body: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[Any, ...], str | None]:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise ApiError(400, "tools: must be a list")
    names, schemas, ttl = [], [], None
    for index, tool in enumerate(tools):
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            raise ApiError(400, "tools: each tool needs a name")
        names.append(str(tool["name"]))
        schemas.append(tool.get("input_schema"))
        ttl = _ttl(tool, f"tools.{index}") or ttl
    return tuple(names), tuple(schemas), ttl


def _check_thinking(body: Mapping[str, Any], model: str, max_tokens: int,
                    choice: Mapping[str, Any]) -> bool:
    thinking = body.get("thinking")
    if thinking is None or (isinstance(thinking, Mapping) and thinking.get("type") == "disabled"):
        return False
    kind = thinking.get("type") if isinstance(thinking, Mapping) else None
    at = version(model)
    if kind == "adaptive" and at < (4, 6):
        raise ApiError(400, f"thinking.type: 'adaptive' is not supported by {model}")
    if kind == "enabled":
        if at >= (4, 7):
            raise ApiError(400, f"thinking.type: 'enabled' is not supported by {model}; use "
                                "'adaptive' with output_config.effort")
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024 or budget >= max_tokens:
            raise ApiError(400, "thinking.budget_tokens: must be >= 1024 and less than "
                                "max_tokens")
    elif kind != "adaptive":
        raise ApiError(400, "thinking.type: Input should be 'enabled', 'adaptive' or "
                            "'disabled'")
    if choice.get("type") in ("any", "tool"):
        raise ApiError(400, "Thinking may not be enabled when tool_choice forces tool use.")
    if body.get("temperature") not in (None, 1, 1.0):
        raise ApiError(400, "temperature may only be set to 1 when thinking is enabled.")
    return True


def _output(body: Mapping[str, Any], model: str) -> Any:
    config = body.get("output_config") or {}
    if not isinstance(config, Mapping):
        raise ApiError(400, "output_config: must be an object")
    if config.get("effort") not in (None, *_EFFORTS):
        raise ApiError(400, f"output_config.effort: Input should be one of {_EFFORTS}")
    fmt = config.get("format")
    if fmt is None:
        return None
    if version(model) < (4, 5):
        raise ApiError(400, f"output_config.format: structured outputs are not supported "
                            f"for {model}")
    if not isinstance(fmt, Mapping) or fmt.get("type") != "json_schema" or not isinstance(
            fmt.get("schema"), Mapping):
        raise ApiError(400, "output_config.format: expected {'type': 'json_schema', "
                            "'schema': {...}}")
    return fmt["schema"]


def _system(body: Mapping[str, Any], marks: list[str | None]) -> str:
    system = body.get("system")
    if not system or isinstance(system, str):
        return system or ""
    text, _ = _blocks(system, "system", "system", marks)
    return text


def parse_chat(body: Mapping[str, Any]) -> ChatInput:
    """A Messages request as a `ChatInput` (see :func:`parse_request`)."""
    return parse_request(body)[0]


def parse_request(body: Mapping[str, Any]) -> tuple[ChatInput, list[Breakpoint]]:
    """A Messages request as a `ChatInput` (the system prompt becomes the first turn), and
    its cache breakpoints in prompt order."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages: Field required (a non-empty list)")
    model = req_str(body, "model")
    limit = body.get("max_tokens")
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise ApiError(400, "max_tokens: Field required")
    names, schemas, tool_ttl = _tools(body)
    breaks = [Breakpoint(-1, tool_ttl)] if tool_ttl else []
    marks: list[str | None] = []
    system = _system(body, marks)
    turns = [Turn("system", system)] if system else []
    breaks += [Breakpoint(0, ttl) for ttl in marks if ttl]
    last_assistant: Any = None
    prefill: str | None = None
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or message.get("role") not in ("user", "assistant"):
            raise ApiError(400, "messages: each message needs role 'user' or 'assistant'")
        marks = []
        text, result = _blocks(message.get("content"), message["role"], f"messages.{index}",
                               marks)
        turns.append(Turn("tool" if result else str(message["role"]), text))
        breaks += [Breakpoint(len(turns) - 1, ttl) for ttl in marks if ttl]
        if message["role"] == "assistant":
            last_assistant = message.get("content")
        prefill = text if message["role"] == "assistant" and not result else None
    if prefill is not None and prefill != prefill.rstrip():
        raise ApiError(400, "messages: final assistant content cannot end with trailing "
                            "whitespace")
    _check_marks(breaks)
    raw_choice = body.get("tool_choice")
    choice: Mapping[str, Any] = raw_choice if isinstance(raw_choice, Mapping) else {}
    thinking = _check_thinking(body, model, limit, choice)
    if thinking and isinstance(last_assistant, list) and any(
            isinstance(b, Mapping) and b.get("type") == "tool_use" for b in last_assistant):
        first = last_assistant[0].get("type") if isinstance(last_assistant[0], Mapping) else ""
        if first not in ("thinking", "redacted_thinking"):
            raise ApiError(400, f"messages: Expected `thinking` or `redacted_thinking`, but "
                                f"found `{first}`. When `thinking` is enabled, a final "
                                "`assistant` message must start with a thinking block.")
    chat = ChatInput(
        model=model, turns=tuple(turns), max_tokens=limit,
        stop=stops_of(body.get("stop_sequences")), tools=names,
        tool_choice_none=choice.get("type") == "none",
        forced_tool=choice.get("name") if choice.get("type") == "tool" else None,
        schema=_output(body, model), tool_schemas=schemas, reasoning=thinking,
        parallel=choice.get("disable_parallel_tool_use") is not True,
        prefill=prefill if prefill and not _calls_tools(last_assistant) else None)
    return chat, breaks


def _calls_tools(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(b, Mapping) and b.get("type") == "tool_use" for b in content)


def _check_marks(breaks: list[Breakpoint]) -> None:
    if len(breaks) > 4:
        raise ApiError(400, f"A maximum of 4 blocks with cache_control may be provided. "
                            f"Found {len(breaks)}.")
    ttls = [b.ttl for b in breaks]
    if "5m" in ttls and "1h" in ttls[ttls.index("5m"):]:
        raise ApiError(400, "a ttl='1h' cache_control block must not come after a ttl='5m' "
                            "cache_control block")
