"""The two requests: :class:`ChatRequest` and :class:`EmbedRequest`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from insightforge.types import checks
from insightforge.types._convert import frozen_map, str_tuple
from insightforge.types.controls import Reasoning
from insightforge.types.controls import reasoning as _reasoning
from insightforge.types.messages import Message, Tool

__all__ = ["ChatRequest", "EmbedRequest"]


def _messages(value: str | Iterable[Message | Mapping[str, Any]]) -> tuple[Message, ...]:
    if isinstance(value, str):
        return (Message("user", value),)
    out = []
    for m in value:
        if isinstance(m, Message):
            out.append(m)
        elif isinstance(m, Mapping):
            content = m.get("content")
            out.append(Message(str(m["role"]), content if isinstance(content, (list, tuple))
                               else str(content or ""), name=m.get("name"),
                               tool_calls=m.get("tool_calls") or (),
                               tool_call_id=m.get("tool_call_id"),
                               cache=m.get("cache", m.get("cache_control"))))
        else:
            raise TypeError(f"messages must be Message objects or dicts, got {type(m).__name__}")
    if not out:
        raise ValueError("messages must not be empty: pass at least one Message")
    return tuple(out)


def _tools(value: Iterable[Tool | Mapping[str, Any]] | None) -> tuple[Tool, ...]:
    out = []
    for t in value or ():
        if isinstance(t, Tool):
            out.append(t)
        else:  # OpenAI wire shape: {"type": "function", "function": {...}}
            fn = t.get("function", t)
            out.append(Tool(str(fn["name"]), str(fn.get("description", "")),
                            fn.get("parameters") or {"type": "object", "properties": {}},
                            cache=t.get("cache", t.get("cache_control"))))
    return tuple(out)


def _opt_float(value: float | int | None) -> float | None:
    """An int becomes a float; anything that is not a number is left for the check to name."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


@attrs.frozen(slots=True)
class ChatRequest:
    """A chat completion request, the same for every provider.

    Attributes:
        messages: the conversation (a plain string is one user message).
        model: overrides the provider's default model.
        temperature, top_p, max_tokens, stop, seed: the usual sampling controls.
        tools: functions the model may call; tool_choice: ``auto``/``none``/``required``/a name.
        response_format: ``"json"`` for JSON mode, or a JSON Schema (a bare schema, whose
            ``title`` names it, or OpenAI's ``{"type": "json_schema", "json_schema": {...}}``):
            the answer follows it and ``response.parsed`` holds the parsed value.
        reasoning: how much a reasoning model thinks (:class:`~insightforge.Reasoning`, or
            ``"low"``/``"medium"``/``"high"``); ``None`` leaves the model's default.
        parallel_tool_calls: allow (``True``) or forbid (``False``) several tool calls in
            one answer where the vendor has the switch; ``None`` leaves the default.
        stream: answer as a :class:`~insightforge.ChatStream` of chunks.
        options: provider-specific parameters, passed through as they are (JSON values).
        tags: who and why (tenant, user, feature). Never sent upstream, never in a cache key.

    Every field is checked when the request is made (:mod:`insightforge.types.checks`): a
    NaN or infinite number, a ``top_p`` outside 0..1, a negative ``temperature``, an
    ``options`` value JSON cannot carry... raise :class:`~insightforge.errors.InvalidRequest`
    naming the field, before anything is sent.
    """

    messages: tuple[Message, ...] = attrs.field(converter=_messages)
    model: str | None = attrs.field(default=None, kw_only=True,
                                    validator=checks.optional_string)
    temperature: float | None = attrs.field(default=None, kw_only=True, converter=_opt_float,
                                            validator=checks.number(0))
    top_p: float | None = attrs.field(default=None, kw_only=True, converter=_opt_float,
                                      validator=checks.number(0, 1))
    max_tokens: int | None = attrs.field(default=None, kw_only=True,
                                         validator=checks.positive_int)
    stop: tuple[str, ...] = attrs.field(default=(), kw_only=True, converter=str_tuple,
                                        validator=checks.strings)
    tools: tuple[Tool, ...] = attrs.field(default=(), kw_only=True, converter=_tools)
    tool_choice: str | None = attrs.field(default=None, kw_only=True,
                                          validator=checks.optional_string)
    response_format: str | Mapping[str, Any] | None = attrs.field(
        default=None, kw_only=True, validator=checks.json_field)
    seed: int | None = attrs.field(default=None, kw_only=True, validator=checks.whole)
    reasoning: Reasoning | None = attrs.field(default=None, kw_only=True, converter=_reasoning)
    parallel_tool_calls: bool | None = attrs.field(default=None, kw_only=True,
                                                   validator=checks.optional_boolean)
    stream: bool = attrs.field(default=False, kw_only=True, validator=checks.boolean)
    options: Mapping[str, Any] = attrs.field(factory=dict, kw_only=True, converter=frozen_map,
                                             validator=checks.json_field)
    tags: Mapping[str, str] = attrs.field(factory=dict, kw_only=True, converter=frozen_map)

    @tools.validator
    def _check_tools(self, _: attrs.Attribute[tuple[Tool, ...]], value: tuple[Tool, ...]) -> None:
        for index, tool in enumerate(value):
            checks.json_value(tool.parameters, f"tools[{index}].parameters")


@attrs.frozen(slots=True)
class EmbedRequest:
    """An embeddings request.

    Attributes:
        inputs: the texts to embed (a plain string is one text).
        model: overrides the provider's default embedding model.
        dimensions: ask for shorter vectors where the model supports it.
        options: provider-specific parameters; tags: as for :class:`ChatRequest`.
    """

    inputs: tuple[str, ...] = attrs.field(converter=str_tuple, validator=checks.strings)
    model: str | None = attrs.field(default=None, kw_only=True,
                                    validator=checks.optional_string)
    dimensions: int | None = attrs.field(default=None, kw_only=True,
                                         validator=checks.positive_int)
    options: Mapping[str, Any] = attrs.field(factory=dict, kw_only=True, converter=frozen_map,
                                             validator=checks.json_field)
    tags: Mapping[str, str] = attrs.field(factory=dict, kw_only=True, converter=frozen_map)

    stream = False  # embeddings never stream; lets layers test ``request.stream`` uniformly
