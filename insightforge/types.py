"""The value types every layer and provider speaks: requests, responses, chunks, trace.

All are frozen attrs classes with slots. Containers are tuples and read-only mappings, so a
request handed down the onion cannot be changed under another layer's feet; a layer that
needs a different request builds one with :func:`attrs.evolve`.

Converting to and from plain dicts lives in :mod:`insightforge.serialize` (one converter).
This module imports nothing heavy: it is on the ``import insightforge`` path.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal

import attrs

from insightforge.pricing import Price

__all__ = [
    "ChatRequest",
    "ChatResponse",
    "Chunk",
    "EmbedRequest",
    "EmbedResponse",
    "Message",
    "Route",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "TraceEvent",
    "Usage",
]

Role = Literal["system", "user", "assistant", "tool"]
_ROLES = frozenset({"system", "user", "assistant", "tool"})
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not value:
        return _EMPTY
    if isinstance(value, MappingProxyType):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    return MappingProxyType(dict(value))


def _str_tuple(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _check_role(_: object, __: attrs.Attribute[str], value: str) -> None:
    if value not in _ROLES:
        raise ValueError(f"role must be one of {sorted(_ROLES)}, got {value!r}")


@attrs.frozen(slots=True)
class ToolCall:
    """A call the model asks the caller to make.

    Attributes:
        id: the provider's id for the call, echoed back in the tool result message.
        name: the tool's name.
        arguments: the arguments as a JSON text (as the model wrote it).
    """

    id: str
    name: str
    arguments: str = "{}"


def _tool_calls(value: Iterable[ToolCall | Mapping[str, Any]] | None) -> tuple[ToolCall, ...]:
    out = []
    for call in value or ():
        if isinstance(call, ToolCall):
            out.append(call)
        else:  # OpenAI wire shape: {"id", "function": {"name", "arguments"}}
            fn = call.get("function", call)
            out.append(ToolCall(str(call.get("id", "")), str(fn["name"]),
                                str(fn.get("arguments", "{}"))))
    return tuple(out)


@attrs.frozen(slots=True)
class Message:
    """One chat message.

    Attributes:
        role: ``system``, ``user``, ``assistant`` or ``tool``.
        content: the text.
        name: optional author name.
        tool_calls: calls requested by an assistant message.
        tool_call_id: for a ``tool`` message, the call it answers.
    """

    role: str = attrs.field(validator=_check_role)
    content: str = ""
    name: str | None = attrs.field(default=None, kw_only=True)
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), kw_only=True, converter=_tool_calls)
    tool_call_id: str | None = attrs.field(default=None, kw_only=True)


@attrs.frozen(slots=True)
class Tool:
    """A function the model may call.

    Attributes:
        name: the function name.
        description: what it does, for the model.
        parameters: its JSON Schema.
    """

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = attrs.field(
        factory=lambda: _frozen_map({"type": "object", "properties": {}}), converter=_frozen_map)


def _messages(value: str | Iterable[Message | Mapping[str, Any]]) -> tuple[Message, ...]:
    if isinstance(value, str):
        return (Message("user", value),)
    out = []
    for m in value:
        if isinstance(m, Message):
            out.append(m)
        elif isinstance(m, Mapping):
            out.append(Message(str(m["role"]), str(m.get("content") or ""), name=m.get("name"),
                               tool_calls=m.get("tool_calls") or (),
                               tool_call_id=m.get("tool_call_id")))
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
                            fn.get("parameters") or {"type": "object", "properties": {}}))
    return tuple(out)


def _opt_float(value: float | int | None) -> float | None:
    return None if value is None else float(value)


@attrs.frozen(slots=True)
class ChatRequest:
    """A chat completion request, the same for every provider.

    Attributes:
        messages: the conversation (a plain string is one user message).
        model: overrides the provider's default model.
        temperature, top_p, max_tokens, stop, seed: the usual sampling controls.
        tools: functions the model may call; tool_choice: ``auto``/``none``/``required``/a name.
        response_format: ``"json"`` for JSON mode, or a JSON-schema mapping.
        stream: answer as a :class:`~insightforge.ChatStream` of chunks.
        options: provider-specific parameters, passed through as they are.
        tags: who and why (tenant, user, feature). Never sent upstream, never in a cache key.
    """

    messages: tuple[Message, ...] = attrs.field(converter=_messages)
    model: str | None = attrs.field(default=None, kw_only=True)
    temperature: float | None = attrs.field(default=None, kw_only=True, converter=_opt_float)
    top_p: float | None = attrs.field(default=None, kw_only=True, converter=_opt_float)
    max_tokens: int | None = attrs.field(default=None, kw_only=True)
    stop: tuple[str, ...] = attrs.field(default=(), kw_only=True, converter=_str_tuple)
    tools: tuple[Tool, ...] = attrs.field(default=(), kw_only=True, converter=_tools)
    tool_choice: str | None = attrs.field(default=None, kw_only=True)
    response_format: str | Mapping[str, Any] | None = attrs.field(default=None, kw_only=True)
    seed: int | None = attrs.field(default=None, kw_only=True)
    stream: bool = attrs.field(default=False, kw_only=True)
    options: Mapping[str, Any] = attrs.field(factory=dict, kw_only=True, converter=_frozen_map)
    tags: Mapping[str, str] = attrs.field(factory=dict, kw_only=True, converter=_frozen_map)

    @max_tokens.validator
    def _check_max_tokens(self, _: attrs.Attribute[int | None], value: int | None) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"max_tokens must be a positive integer, got {value!r}")


@attrs.frozen(slots=True)
class EmbedRequest:
    """An embeddings request.

    Attributes:
        inputs: the texts to embed (a plain string is one text).
        model: overrides the provider's default embedding model.
        dimensions: ask for shorter vectors where the model supports it.
        options: provider-specific parameters; tags: as for :class:`ChatRequest`.
    """

    inputs: tuple[str, ...] = attrs.field(converter=_str_tuple)
    model: str | None = attrs.field(default=None, kw_only=True)
    dimensions: int | None = attrs.field(default=None, kw_only=True)
    options: Mapping[str, Any] = attrs.field(factory=dict, kw_only=True, converter=_frozen_map)
    tags: Mapping[str, str] = attrs.field(factory=dict, kw_only=True, converter=_frozen_map)

    stream = False  # embeddings never stream; lets layers test ``request.stream`` uniformly


@attrs.frozen(slots=True)
class Usage:
    """Token counts of one call.

    Attributes:
        input_tokens: prompt tokens billed.
        output_tokens: completion tokens billed.
    """

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens,
                     self.output_tokens + other.output_tokens)


@attrs.frozen(slots=True)
class TraceEvent:
    """One thing a layer did for a request (``retry``, ``fallback``, ``cache``, ``budget``...).

    Attributes:
        layer: the layer or component that recorded it.
        event: what happened (``attempt``, ``hit``, ``reserved``...).
        detail: a short human sentence.
        data: small JSON-able facts (attempt number, delay, error type).
        at: wall-clock time (``time.time()``).
    """

    layer: str
    event: str
    detail: str = ""
    data: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_map)
    at: float = attrs.field(factory=time.time)

    def __str__(self) -> str:
        return f"{self.layer}.{self.event}" + (f": {self.detail}" if self.detail else "")


@attrs.frozen(slots=True)
class ChatResponse:
    """A complete chat answer.

    Attributes:
        message: the assistant message (text and/or tool calls).
        model: the model that answered; provider: the provider that answered.
        usage: tokens billed; finish_reason: ``stop``/``length``/``tool_calls``/...
        id: the provider's response id.
        cost_usd: the cost of this call (``Decimal``), ``None`` when the price is unknown,
            zero for a cache hit.
        cached: served from a cache.
        trace: what the layers did, oldest first.
    """

    message: Message
    model: str
    provider: str
    usage: Usage = Usage()
    finish_reason: str | None = None
    id: str = ""
    cost_usd: Decimal | None = None
    cached: bool = False
    trace: tuple[TraceEvent, ...] = ()

    @property
    def text(self) -> str:
        """The assistant's text."""
        return self.message.content

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return self.message.tool_calls


@attrs.frozen(slots=True)
class EmbedResponse:
    """Embedding vectors, one per input, in input order.

    Attributes:
        vectors: the vectors; the rest as for :class:`ChatResponse`.
    """

    vectors: tuple[tuple[float, ...], ...]
    model: str
    provider: str
    usage: Usage = Usage()
    cost_usd: Decimal | None = None
    cached: bool = False
    trace: tuple[TraceEvent, ...] = ()


@attrs.frozen(slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call (``index`` ties fragments together)."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@attrs.frozen(slots=True)
class Chunk:
    """One piece of a streamed answer.

    Attributes:
        text: the text delta (may be empty).
        tool_calls: tool-call deltas; a delta with an ``id`` starts a call, later ones with
            the same ``index`` append to its arguments.
        finish_reason: set on the last content chunk.
        usage: set on the chunk that reports usage (usually the last).
    """

    text: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = attrs.field(default=(), kw_only=True)
    finish_reason: str | None = attrs.field(default=None, kw_only=True)
    usage: Usage | None = attrs.field(default=None, kw_only=True)


@attrs.frozen(slots=True)
class Route:
    """Where a handler may send a request: provider name, default model, its price.

    Attributes:
        provider: provider name (``openai``); model: default model;
        price: the price of the default model, or ``None`` when unknown.
        base_url: the endpoint, so two stacks on different servers never share a cache key.
    """

    provider: str
    model: str
    price: Price | None = None
    base_url: str = ""

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.model}@{self.base_url}"
