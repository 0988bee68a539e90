"""The Anthropic Messages API, request side — pure: a ChatRequest as a ``/v1/messages`` body.

What lives here: system messages lifted into ``system`` (text blocks when one is marked
cacheable); content parts as blocks (images as ``image`` with a ``base64`` or ``url``
source; PDFs and text files as ``document``; audio is refused); assistant turns with their
signed ``thinking`` blocks first (Anthropic requires them back with a tool-use turn),
then text and ``tool_use``; tool results as ``tool_result`` blocks in one user turn (so
several results answer several parallel calls); ``cache_control`` (``ephemeral``, ttl
``5m``/``1h``) on the last block of each marked message and on marked tools; reasoning as
``thinking`` (``enabled`` with a budget, or ``adaptive`` with an effort for the models
that take it); structured output natively (``output_config.format``) or through a forced
answer tool on older models; ``disable_parallel_tool_use``.

Models: a Claude version >= 4.5 has native structured output, >= 4.6 adaptive thinking
(:func:`model_version`); ``Anthropic(structured_output=..., thinking=...)`` overrides the
guess for names it cannot read. What must not: sockets, httpx, clocks.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from insightforge.errors import InvalidRequest
from insightforge.types import (
    AudioPart,
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    Part,
    TextPart,
    ThinkingPart,
)
from providers._capabilities import unsupported
from providers._wire import OutputFormat, arguments_object, output_format

__all__ = ["NAME", "answer_tool", "chat_body", "messages", "model_version"]

NAME = "anthropic"
MAX_BREAKPOINTS = 4
_JSON_HINT = "Answer with one JSON object only, no prose and no code fence."
_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
_EFFORTS = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}
_VERSION = re.compile(r"claude-(?:opus|sonnet|haiku|mythos|fable)-(\d+)(?:-(\d{1,2})(?!\d))?")


def model_version(model: str) -> tuple[int, int] | None:
    """``(major, minor)`` of a current Claude model name (``claude-sonnet-4-5`` -> (4, 5)),
    or ``None`` for an older or unknown name."""
    found = _VERSION.search(model)
    if found is None:
        return None
    return int(found.group(1)), int(found.group(2) or 0)


def _native_output(model: str, mode: str) -> bool:
    if mode != "auto":
        return mode == "native"
    version = model_version(model)
    return version is not None and version >= (4, 5)


def _adaptive(model: str, mode: str) -> bool:
    if mode != "auto":
        return mode == "adaptive"
    version = model_version(model)
    return version is not None and version >= (4, 6)


def continues_prefill(model: str, mode: str | bool = "auto") -> bool:
    """Whether ``model`` continues a final assistant message: Claude models before 4.6 do;
    from 4.6 on the API rejects a prefill ("This model does not support assistant message
    prefill"). ``mode`` True/False overrides the rule."""
    if mode != "auto":
        return bool(mode)
    version = model_version(model)
    return version is None or version < (4, 6)


# -- messages ---------------------------------------------------------------------------

def _cache(message: Message | Any) -> dict[str, Any] | None:
    mark = message.cache
    return None if mark is None else {"type": "ephemeral", "ttl": mark.ttl}


def _source(part: ImagePart | FilePart) -> dict[str, Any]:
    if part.data is None:
        return {"type": "url", "url": part.url}
    return {"type": "base64", "media_type": part.media_type,
            "data": base64.b64encode(part.data).decode("ascii")}


def _document(part: FilePart) -> dict[str, Any]:
    if part.data is not None and part.media_type == "text/plain":
        try:
            text = part.data.decode("utf-8")
        except UnicodeDecodeError:
            raise unsupported(NAME, "a text/plain file that is not UTF-8",
                              "decode it to text first") from None
        block: dict[str, Any] = {"type": "document", "source": {
            "type": "text", "media_type": "text/plain", "data": text}}
    elif part.data is None or part.media_type == "application/pdf":
        block = {"type": "document", "source": _source(part)}
    else:
        raise unsupported(NAME, f"a {part.media_type} file", "Anthropic documents are PDFs "
                          "or plain text; convert the file first")
    if part.filename:
        block["title"] = part.filename
    return block


def _block(part: Part) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text} if part.text else None
    if isinstance(part, ImagePart):
        return {"type": "image", "source": _source(part)}
    if isinstance(part, FilePart):
        return _document(part)
    if isinstance(part, AudioPart):
        raise unsupported(NAME, "an audio part (AudioPart)", "transcribe it first")
    if part.signature:  # thinking: only signed blocks may go back
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    if part.data:
        return {"type": "redacted_thinking", "data": part.data}
    return None


def _blocks(message: Message) -> list[dict[str, Any]]:
    parts = message.parts
    if message.role == "assistant":  # thinking first, as the API returned it
        parts = (*message.thinking, *(p for p in parts if not isinstance(p, ThinkingPart)))
    return [b for b in (_block(p) for p in parts) if b is not None]


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks = _blocks(message)
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name,
                       "input": arguments_object(NAME, call.arguments, call.name)})
    return blocks


def _tool_result(message: Message) -> dict[str, Any]:
    if not message.tool_call_id:
        raise InvalidRequest(f"{NAME}: a tool message needs tool_call_id (the id of the "
                             "tool call it answers).")
    content: Any = message.content if isinstance(message.content, str) else _blocks(message)
    return {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": content}


def _append(out: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]],
            cache: dict[str, Any] | None) -> None:
    """Add blocks to the conversation, merging into the last turn of the same role."""
    if cache is not None:
        for block in reversed(blocks):
            if block["type"] not in ("thinking", "redacted_thinking"):
                block["cache_control"] = cache
                break
    if out and out[-1]["role"] == role:
        out[-1]["content"].extend(blocks)
    else:
        out.append({"role": role, "content": blocks})


def messages(request: ChatRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system blocks, messages)``: tool results become user turns, roles alternate."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for message in request.messages:
        cache = _cache(message)
        if message.role == "system":
            if message.media:
                raise unsupported(NAME, f"a {message.media[0].kind} part in a system message",
                                  "put images and files in user messages")
            if message.text:
                block: dict[str, Any] = {"type": "text", "text": message.text}
                if cache is not None:
                    block["cache_control"] = cache
                system.append(block)
        elif message.role == "tool":
            _append(out, "user", [_tool_result(message)], cache)
        elif message.role == "user":
            _append(out, "user", _blocks(message) or [{"type": "text", "text": ""}], cache)
        else:
            blocks = _assistant_blocks(message)
            if blocks:
                _append(out, "assistant", blocks, cache)
    if not out:
        raise InvalidRequest(f"{NAME}: the Messages API needs at least one user message "
                             "besides the system prompt.")
    for turn in out:  # a lone plain text block travels as a plain string, as the docs show
        content = turn["content"]
        if len(content) == 1 and content[0]["type"] == "text" and len(content[0]) == 2:
            turn["content"] = content[0]["text"]
    return system, out


# -- the body ---------------------------------------------------------------------------

def answer_tool(request: ChatRequest, model: str, mode: str = "auto") -> str | None:
    """The name of the forced answer tool when structured output goes through tool use."""
    fmt = output_format(request.response_format)
    if fmt is None or fmt.schema is None or _native_output(model, mode):
        return None
    return fmt.name


def _tool_choice(choice: str | None, parallel: bool | None) -> dict[str, Any] | None:
    out: dict[str, Any] | None
    if choice is None:
        out = None
    elif choice in ("auto", "none"):
        out = {"type": choice}
    elif choice in ("required", "any"):
        out = {"type": "any"}
    else:
        out = {"type": "tool", "name": choice}
    if parallel is False:
        out = {**(out or {"type": "auto"}), "disable_parallel_tool_use": True}
    return out


def _thinking(request: ChatRequest, body: dict[str, Any], model: str, mode: str,
              default_max: int) -> None:
    setting = request.reasoning
    if setting is None:
        return
    budget = setting.budget_tokens or _BUDGETS[setting.effort or "medium"]
    if _adaptive(model, mode):  # the model decides how much to think; leave it room
        body["thinking"] = {"type": "adaptive"}
        if setting.effort is not None:
            body.setdefault("output_config", {})["effort"] = _EFFORTS[setting.effort]
        if request.max_tokens is None:
            body["max_tokens"] = budget + default_max
        return
    if request.max_tokens is None:
        body["max_tokens"] = budget + default_max
    elif budget >= request.max_tokens:
        budget = request.max_tokens - 1
    if budget < 1024:
        raise InvalidRequest(f"{NAME}: extended thinking needs a budget of at least 1024 "
                             f"tokens below max_tokens; raise max_tokens (now "
                             f"{request.max_tokens}) or reasoning.budget_tokens.")
    body["thinking"] = {"type": "enabled", "budget_tokens": budget}


def _structured(request: ChatRequest, body: dict[str, Any], system: list[dict[str, Any]],
                fmt: OutputFormat, tool: str | None) -> None:
    if fmt.schema is None:  # plain JSON mode: the Messages API has none, so ask for it
        system.append({"type": "text", "text": _JSON_HINT})
    elif tool is None:
        body.setdefault("output_config", {})["format"] = {"type": "json_schema",
                                                          "schema": fmt.schema}
    else:
        if request.reasoning is not None:
            raise unsupported(NAME, "structured output together with reasoning on this "
                              "model (forced tool use excludes thinking)", "use a model "
                              "with native structured output (claude-sonnet-4-5 or later), "
                              "or drop one of them")
        body.setdefault("tools", []).append({
            "name": tool, "description": "Give the final answer in this shape.",
            "input_schema": fmt.schema})
        # With tools of its own the model may call them or answer; else it must answer.
        offered = bool(request.tools) and request.tool_choice != "none"
        body["tool_choice"] = {"type": "any"} if offered else {"type": "tool", "name": tool}


def chat_body(request: ChatRequest, *, model: str, max_tokens: int, stream: bool,
              structured_output: str = "auto", thinking: str = "auto") -> dict[str, Any]:
    """The ``/v1/messages`` JSON body; ``request.options`` merge in at the top level."""
    system, turns = messages(request)
    body: dict[str, Any] = {"model": model, "max_tokens": request.max_tokens or max_tokens,
                            "messages": turns}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.tools:
        body["tools"] = [{"name": t.name, "description": t.description,
                          "input_schema": dict(t.parameters),
                          **({"cache_control": _cache(t)} if t.cache else {})}
                         for t in request.tools]
        choice = _tool_choice(request.tool_choice, request.parallel_tool_calls)
        if choice is not None:
            body["tool_choice"] = choice
    fmt = output_format(request.response_format)
    if fmt is not None:
        _structured(request, body, system, fmt, answer_tool(request, model, structured_output))
    _thinking(request, body, model, thinking, max_tokens)
    if system:
        marked = any("cache_control" in block for block in system)
        body["system"] = system if marked else "\n\n".join(b["text"] for b in system)
    _check_breakpoints(body)
    if stream:
        body["stream"] = True
    body.update(request.options)
    return body


def _check_breakpoints(body: Mapping[str, Any]) -> None:
    blocks: list[Any] = [*body.get("tools", [])]
    if isinstance(body.get("system"), list):
        blocks += body["system"]
    for turn in body["messages"]:
        if isinstance(turn["content"], list):
            blocks += turn["content"]
    count = sum(1 for block in blocks if "cache_control" in block)
    if count > MAX_BREAKPOINTS:
        raise InvalidRequest(f"{NAME}: {count} cache marks, but the API takes at most "
                             f"{MAX_BREAKPOINTS} cache breakpoints; mark fewer messages or "
                             "tools (the last mark caches everything before it).")
