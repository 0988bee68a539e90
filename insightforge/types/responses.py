"""What comes back: usage, trace events, responses, stream chunks, and routes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from insightforge.pricing import Price
from insightforge.types._convert import frozen_map
from insightforge.types.messages import Message, ToolCall
from insightforge.types.parts import ThinkingPart

__all__ = ["ChatResponse", "Chunk", "EmbedResponse", "Route", "ThinkingDelta", "ToolCallDelta",
           "TraceEvent", "Usage", "restamp"]


def _count(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or value < 0:  # bool is not a count
        raise ValueError(f"Usage.{attribute.name} must be a whole number >= 0, got {value!r}")


@attrs.frozen(slots=True)
class Usage:
    """Token counts of one call, as the provider billed them.

    The parts nest: ``input_tokens`` counts **every** prompt token, those read from or
    written to the provider's prompt cache included, and ``output_tokens`` counts every
    completion token, reasoning included. So ``cache_read_tokens + cache_write_tokens <=
    input_tokens`` and ``reasoning_tokens <= output_tokens``; a price applies its cache rates
    to those parts and its plain rates to the rest.

    Attributes:
        input_tokens: prompt tokens, all of them.
        output_tokens: completion tokens, all of them (reasoning included).
        cache_read_tokens: the part of the input read from the prompt cache (OpenAI
            ``prompt_tokens_details.cached_tokens``, Anthropic ``cache_read_input_tokens``).
        cache_write_tokens: the part of the input written to the prompt cache, whatever its
            lifetime (Anthropic ``cache_creation_input_tokens``).
        cache_write_1h_tokens: the part of ``cache_write_tokens`` written with a one-hour
            lifetime, billed at a higher rate (Anthropic ``ephemeral_1h_input_tokens``); the
            rest of the cache writes are five-minute writes.
        reasoning_tokens: the part of the output spent on reasoning (OpenAI
            ``completion_tokens_details.reasoning_tokens``).
        estimated: the counts are InsightForge's estimate, because the server reported none.
    """

    input_tokens: int = attrs.field(default=0, validator=_count)
    output_tokens: int = attrs.field(default=0, validator=_count)
    cache_read_tokens: int = attrs.field(default=0, kw_only=True, validator=_count)
    cache_write_tokens: int = attrs.field(default=0, kw_only=True, validator=_count)
    cache_write_1h_tokens: int = attrs.field(default=0, kw_only=True, validator=_count)
    reasoning_tokens: int = attrs.field(default=0, kw_only=True, validator=_count)
    estimated: bool = attrs.field(default=False, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.cache_read_tokens + self.cache_write_tokens > self.input_tokens:
            raise ValueError(f"Usage: cache reads ({self.cache_read_tokens}) and writes "
                             f"({self.cache_write_tokens}) are parts of input_tokens "
                             f"({self.input_tokens}) and cannot exceed it")
        if self.cache_write_1h_tokens > self.cache_write_tokens:
            raise ValueError(f"Usage: cache_write_1h_tokens ({self.cache_write_1h_tokens}) is "
                             f"a part of cache_write_tokens ({self.cache_write_tokens})")
        if self.reasoning_tokens > self.output_tokens:
            raise ValueError(f"Usage: reasoning_tokens ({self.reasoning_tokens}) are a part "
                             f"of output_tokens ({self.output_tokens}) and cannot exceed it")

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def cache_write_5m_tokens(self) -> int:
        """The five-minute part of the cache writes."""
        return self.cache_write_tokens - self.cache_write_1h_tokens

    @property
    def uncached_input_tokens(self) -> int:
        """Input tokens billed at the plain input rate (neither read from nor written to
        the cache)."""
        return self.input_tokens - self.cache_read_tokens - self.cache_write_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens,
                     self.output_tokens + other.output_tokens,
                     cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
                     cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
                     cache_write_1h_tokens=self.cache_write_1h_tokens
                     + other.cache_write_1h_tokens,
                     reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
                     estimated=self.estimated or other.estimated)


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
        parsed: the answer parsed as JSON when the request asked for JSON or a JSON Schema
            (``response_format``), else ``None``.
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
    parsed: Any = attrs.field(default=None, kw_only=True)

    @property
    def text(self) -> str:
        """The assistant's text."""
        return self.message.text

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return self.message.tool_calls

    @property
    def thinking(self) -> tuple[ThinkingPart, ...]:
        """The reasoning blocks the model returned (with their signatures), in order."""
        return self.message.thinking

    @property
    def reasoning(self) -> str:
        """The reasoning text the model returned ("" when it returned none)."""
        return "".join(part.text for part in self.message.thinking)


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


AnyResponse = TypeVar("AnyResponse", bound="ChatResponse | EmbedResponse")
_SAME: Any = object()


def restamp(response: AnyResponse, trace: tuple[TraceEvent, ...], *, cost_usd: Any = _SAME,
            cached: Any = _SAME) -> AnyResponse:
    """``attrs.evolve(response, trace=trace[, cost_usd=...][, cached=...])`` for the request
    path: layers stamp every answer they pass on, so the copy is built directly from the
    fields (about half of ``evolve``'s generic loop). Equal to ``evolve`` by a property test.
    """
    r: Any = response
    cost = r.cost_usd if cost_usd is _SAME else cost_usd
    hit = r.cached if cached is _SAME else cached
    if type(r) is ChatResponse:
        return ChatResponse(r.message, r.model, r.provider, r.usage,  # type: ignore[return-value]
                            r.finish_reason, r.id, cost, hit, trace, parsed=r.parsed)
    if type(r) is EmbedResponse:
        return EmbedResponse(r.vectors, r.model, r.provider, r.usage,  # type: ignore[return-value]
                             cost, hit, trace)
    changes = {"trace": trace}
    if cost_usd is not _SAME:
        changes["cost_usd"] = cost_usd
    if cached is not _SAME:
        changes["cached"] = cached
    return attrs.evolve(r, **changes)  # type: ignore[no-any-return]


@attrs.frozen(slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call (``index`` ties fragments together)."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@attrs.frozen(slots=True)
class ThinkingDelta:
    """A fragment of a streamed reasoning block (``index`` ties fragments together).

    Attributes:
        index: which reasoning block (0 for the first).
        text: reasoning text to append.
        signature: the block's signature, when this fragment carries it (Anthropic).
        data: the encrypted payload of a redacted block (Anthropic).
    """

    index: int = 0
    text: str = ""
    signature: str | None = None
    data: str | None = None


@attrs.frozen(slots=True)
class Chunk:
    """One piece of a streamed answer.

    Attributes:
        text: the text delta (may be empty).
        tool_calls: tool-call deltas; a delta with an ``id`` starts a call, later ones with
            the same ``index`` append to its arguments.
        finish_reason: set on the last content chunk.
        usage: set on the chunk that reports usage (usually the last).
        thinking: reasoning deltas (``chunk.reasoning`` is their text).
    """

    text: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = attrs.field(default=(), kw_only=True)
    finish_reason: str | None = attrs.field(default=None, kw_only=True)
    usage: Usage | None = attrs.field(default=None, kw_only=True)
    thinking: tuple[ThinkingDelta, ...] = attrs.field(default=(), kw_only=True)

    @property
    def reasoning(self) -> str:
        """The reasoning text this chunk adds ("" for most chunks)."""
        return "".join(delta.text for delta in self.thinking)


@attrs.frozen(slots=True)
class Route:
    """Where a handler may send a request: provider name, default model, its price.

    Attributes:
        provider: provider name (``openai``); model: default model;
        price: the price of the default model, or ``None`` when unknown.
        base_url: the endpoint, so two stacks on different servers never share a cache key.
        context_window: the default model's context window in tokens, ``None`` when
            unknown (a ``Fallback`` moves a ``ContextLengthExceeded`` only to a larger one).
        prefill: the route continues a conversation that ends with an assistant message
            (a stream cut mid-way is continued from the text already delivered).
    """

    provider: str
    model: str
    price: Price | None = None
    base_url: str = ""
    context_window: int | None = attrs.field(default=None, kw_only=True)
    prefill: bool = attrs.field(default=False, kw_only=True)

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.model}@{self.base_url}"
