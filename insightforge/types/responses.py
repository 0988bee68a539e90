"""What comes back: usage, trace events, responses, stream chunks, and routes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from insightforge.pricing import Price
from insightforge.types._convert import frozen_map
from insightforge.types.messages import Message, ToolCall

__all__ = ["ChatResponse", "Chunk", "EmbedResponse", "Route", "ToolCallDelta", "TraceEvent",
           "Usage"]


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
    data: Mapping[str, Any] = attrs.field(factory=dict, converter=frozen_map)
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
