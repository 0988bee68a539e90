"""Hypothesis strategies for InsightForge values: requests, messages, tools, tags, secrets.

What lives here: strategies that build valid :class:`~insightforge.ChatRequest`,
:class:`~insightforge.EmbedRequest`, :class:`~insightforge.Message`, tools, tags, options,
responses and chunks, plus credentials of every shape a vendor issues (for "no secret ever
leaks" properties). ``conversations()`` and ``conformance_chat_requests()`` are restricted to
what every emulated vendor accepts (system prompt first, user/assistant alternating, ending
with a user turn), so the conformance kit can send them to any provider.

What must not: importing this module anywhere on the ``import insightforge`` path —
hypothesis is a test dependency and is imported here, and only here.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from typing import Any

import attrs
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from insightforge.pricing import Price, Tier, Variant
from insightforge.testing.part_strategies import (
    PDF,
    PNG,
    WAV,
    cache_marks,
    media_parts,
    part_messages,
    parts,
    reasonings,
)
from insightforge.types import (
    ChatRequest,
    ChatResponse,
    Chunk,
    EmbedRequest,
    EmbedResponse,
    Message,
    ThinkingDelta,
    ThinkingPart,
    Tool,
    ToolCall,
    TraceEvent,
    Usage,
)
from insightforge.types.messages import assistant_message

__all__ = [
    "PDF",
    "PNG",
    "WAV",
    "booleans",
    "cache_marks",
    "chat_requests",
    "chat_responses",
    "chunks",
    "check_property",
    "conformance_chat_requests",
    "conformance_embed_requests",
    "conversations",
    "embed_requests",
    "embed_responses",
    "identifiers",
    "json_values",
    "media_parts",
    "messages",
    "options",
    "part_messages",
    "parts",
    "reasonings",
    "secrets",
    "tags",
    "texts",
    "tool_calls",
    "tools",
    "trace_events",
    "usages",
    "words",
]

_WORD_ALPHABET = string.ascii_letters + string.digits + "äéßøλжあ'.,!?-"

identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
"""Names safe for tools, tags and option keys."""

texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
"""Any text, including empty, whitespace and non-ASCII (not lone surrogates)."""


def words(min_words: int = 1, max_words: int = 8) -> st.SearchStrategy[str]:
    """Single-space separated words with no leading/trailing space (echo-safe text)."""
    word = st.text(st.sampled_from(_WORD_ALPHABET), min_size=1, max_size=10)
    return st.lists(word, min_size=min_words, max_size=max_words).map(" ".join)


def json_values(max_leaves: int = 6) -> st.SearchStrategy[Any]:
    """JSON-able values (lists, never tuples; no NaN), as they survive a round trip."""
    leaves = (st.none() | st.booleans() | st.integers(-10**6, 10**6)
              | st.floats(allow_nan=False, allow_infinity=False, width=32) | texts)
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(identifiers, inner,
                                                                     max_size=3),
        max_leaves=max_leaves)


tags = st.dictionaries(identifiers, st.text(max_size=20), max_size=4)
"""Who-and-why tags (tenant, user, feature)."""

options = st.dictionaries(identifiers, json_values(), max_size=3)
"""Provider-specific pass-through options."""


@st.composite
def tools(draw: st.DrawFn) -> Tool:
    """A tool with a small JSON-schema of string properties."""
    props = draw(st.lists(identifiers, max_size=3, unique=True))
    schema = {"type": "object", "properties": {p: {"type": "string"} for p in props}}
    return Tool(draw(identifiers), draw(st.text(max_size=30)), schema)


tool_calls = st.builds(ToolCall, st.from_regex(r"call_[a-z0-9]{1,8}", fullmatch=True),
                       identifiers, st.just("{}") | json_values().map(json.dumps))
"""Tool calls as an assistant message carries them (arguments are JSON text)."""


@st.composite
def messages(draw: st.DrawFn, roles: tuple[str, ...] = ("system", "user", "assistant", "tool"),
             ) -> Message:
    """Any valid message (a tool message answers a call; assistants may call tools)."""
    role = draw(st.sampled_from(roles))
    content = draw(texts)
    if role == "assistant":
        return Message(role, content, tool_calls=draw(st.lists(tool_calls, max_size=2)))
    if role == "tool":
        return Message(role, content, tool_call_id=draw(identifiers))
    return Message(role, content, name=draw(st.none() | identifiers))


@st.composite
def chat_requests(draw: st.DrawFn, stream: bool | None = None,
                  parts: bool = False) -> ChatRequest:
    """Any valid chat request, every field exercised (for type and serialization tests);
    with ``parts``, messages may hold content parts and requests carry cache marks,
    reasoning and the parallel-tool-calls switch."""
    if parts:
        return _with_parts(draw)
    return ChatRequest(
        draw(st.lists(messages(), min_size=1, max_size=4)),
        model=draw(st.none() | identifiers),
        temperature=draw(st.none() | st.floats(0, 2, allow_nan=False)),
        top_p=draw(st.none() | st.floats(0, 1, allow_nan=False)),
        max_tokens=draw(st.none() | st.integers(1, 4096)),
        stop=tuple(draw(st.lists(st.text(min_size=1, max_size=5), max_size=2))),
        tools=draw(st.lists(tools(), max_size=2)),
        tool_choice=draw(st.none() | st.sampled_from(["auto", "none", "required"])),
        response_format=draw(st.none() | st.just("json")
                             | st.just({"type": "object", "properties": {}})),
        seed=draw(st.none() | st.integers(0, 2**31)),
        stream=draw(st.booleans()) if stream is None else stream,
        options=draw(options),
        tags=draw(tags),
    )


def _with_parts(draw: st.DrawFn) -> ChatRequest:
    plain = draw(chat_requests(parts=False))
    mixed = draw(st.lists(messages() | part_messages(), min_size=1, max_size=4))
    tools_ = [attrs.evolve(t, cache=draw(cache_marks)) for t in plain.tools]
    return attrs.evolve(plain, messages=tuple(mixed), tools=tuple(tools_),
                        reasoning=draw(reasonings),
                        parallel_tool_calls=draw(st.none() | st.booleans()))


@st.composite
def conversations(draw: st.DrawFn, max_turns: int = 3) -> list[Message]:
    """Optional system prompt, then user/assistant turns alternating, ending with a user turn."""
    out: list[Message] = []
    if draw(st.booleans()):
        out.append(Message("system", draw(words())))
    for _ in range(draw(st.integers(0, max_turns - 1))):
        out.append(Message("user", draw(words())))
        out.append(Message("assistant", draw(words())))
    out.append(Message("user", draw(words())))
    return out


@st.composite
def conformance_chat_requests(draw: st.DrawFn, stream: bool = False) -> ChatRequest:
    """Requests every emulated vendor answers: echo-safe words, optional limits, tags."""
    return ChatRequest(
        draw(conversations()),
        max_tokens=draw(st.none() | st.integers(1, 12)),
        temperature=draw(st.none() | st.sampled_from([0.0, 0.5, 1.0])),
        stream=stream,
        tags=draw(tags),
    )


@st.composite
def embed_requests(draw: st.DrawFn) -> EmbedRequest:
    """Any valid embeddings request."""
    return EmbedRequest(draw(st.lists(texts, min_size=1, max_size=4)),
                        model=draw(st.none() | identifiers),
                        dimensions=draw(st.none() | st.integers(1, 64)),
                        options=draw(options), tags=draw(tags))


@st.composite
def conformance_embed_requests(draw: st.DrawFn) -> EmbedRequest:
    """Embeddings requests every emulated vendor answers."""
    return EmbedRequest(draw(st.lists(words(), min_size=1, max_size=4)), tags=draw(tags))


@st.composite
def _usages(draw: st.DrawFn) -> Usage:
    """Usage with every part, nested as the contract says (parts never exceed wholes)."""
    total_in, total_out = draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6))
    read = draw(st.integers(0, total_in))
    write = draw(st.integers(0, total_in - read))
    return Usage(total_in, total_out, cache_read_tokens=read, cache_write_tokens=write,
                 cache_write_1h_tokens=draw(st.integers(0, write)),
                 reasoning_tokens=draw(st.integers(0, total_out)), estimated=draw(st.booleans()))


usages = _usages()
"""Any valid usage (cache reads and writes, the one-hour part, reasoning, estimated)."""

_money = st.decimals(min_value=0, max_value=1000, places=8, allow_nan=False,
                     allow_infinity=False)

trace_events = st.builds(TraceEvent, identifiers, identifiers, st.text(max_size=20),
                         st.dictionaries(identifiers, json_values(3), max_size=2),
                         st.floats(0, 2e9, allow_nan=False))


_thinking = st.builds(ThinkingPart, texts, signature=st.none() | st.text(max_size=12),
                      data=st.none() | st.just("ZW5j"))


@st.composite
def chat_responses(draw: st.DrawFn) -> ChatResponse:
    """Any chat response (text and/or tool calls, reasoning blocks, a parsed value, cost or
    none, a trace)."""
    message = assistant_message(draw(texts), draw(st.lists(_thinking, max_size=2)),
                                draw(st.lists(tool_calls, max_size=2)))
    return ChatResponse(message, draw(identifiers), draw(identifiers), draw(usages),
                        draw(st.none() | st.sampled_from(["stop", "length", "tool_calls"])),
                        draw(st.text(max_size=12)), draw(st.none() | _money),
                        draw(st.booleans()), tuple(draw(st.lists(trace_events, max_size=3))),
                        parsed=draw(st.none() | json_values()))


@st.composite
def embed_responses(draw: st.DrawFn) -> EmbedResponse:
    """Any embeddings response."""
    dim = draw(st.integers(1, 6))
    vector = st.tuples(*[st.floats(-1, 1, allow_nan=False)] * dim)
    return EmbedResponse(tuple(draw(st.lists(vector, min_size=1, max_size=3))),
                         draw(identifiers), draw(identifiers), draw(usages),
                         draw(st.none() | _money), draw(st.booleans()))


chunks = st.builds(Chunk, texts, finish_reason=st.none() | st.just("stop"),
                   usage=st.none() | usages,
                   thinking=st.lists(st.builds(ThinkingDelta, st.integers(0, 2), texts,
                                               st.none() | st.text(max_size=8)),
                                     max_size=2).map(tuple))
"""Stream chunks (text, reasoning deltas, usage)."""


def _secret_from(prefix: str, alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=size, max_size=size).map(
        lambda body: prefix + body)


_B62 = string.ascii_letters + string.digits
secrets = st.one_of(
    _secret_from("sk-", _B62, 48),                                   # OpenAI legacy
    _secret_from("sk-proj-", _B62 + "-_", 56),                        # OpenAI project
    _secret_from("sk-ant-api03-", _B62 + "-_", 60),                   # Anthropic
    _secret_from("hf_", _B62, 34),                                    # Hugging Face
    _secret_from("", "0123456789abcdef", 32),                         # Azure
    _secret_from("eyJ", _B62 + "-_.", 40),                            # a JWT (Entra ID)
    _secret_from("gsk_", _B62, 52),                                   # Groq
    _secret_from("", _B62 + "+/=%&?# ", 24),                          # URL-hostile
)
"""Credentials of every shape a vendor issues, including URL-hostile characters."""


booleans = st.booleans


def check_property(test: Callable[..., None], *strategies: st.SearchStrategy[Any],
                   examples: int) -> None:
    """Run ``test`` on ``examples`` generated inputs now (for checks outside pytest).

    Deterministic (derandomized, no example database) and without shrinking: each example
    may be a real network call, and the inputs are small already.
    """
    run = settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                   suppress_health_check=list(HealthCheck),
                   phases=(Phase.explicit, Phase.reuse, Phase.generate))(given(*strategies)(test))
    run()


# -- prices -------------------------------------------------------------------------------
PRICE_VARIANTS = {"service_tier": ("flex", "priority", "fast", "default"), "speed": ("fast",)}
"""Option values a generated price may have variants for (``prices(variants=...)``)."""


def flat_prices(places: int = 4) -> st.SearchStrategy[Price]:
    """Prices without tiers or variants; rates with up to ``places`` decimals."""
    rates = st.decimals(0, 100, places=places, allow_nan=False, allow_infinity=False)
    maybe = st.none() | rates
    return st.builds(Price, rates, rates, cache_read=maybe, cache_write=maybe,
                     cache_write_1h=maybe)


@st.composite
def tiered_prices(draw: st.DrawFn, places: int = 4) -> Price:
    """A flat price with up to three long-context tiers."""
    base = draw(flat_prices(places))
    aboves = sorted(draw(st.sets(st.integers(0, 400_000), max_size=3)))
    tiers = tuple(Tier(a, draw(flat_prices(places))) for a in aboves)
    return Price(base.input, base.output, cache_read=base.cache_read,
                 cache_write=base.cache_write, cache_write_1h=base.cache_write_1h, tiers=tiers)


@st.composite
def prices(draw: st.DrawFn, places: int = 4,
           variants: dict[str, tuple[str, ...]] | None = None, max_variants: int = 4) -> Price:
    """A tiered price with variants for some of ``variants`` (default
    :data:`PRICE_VARIANTS`), each a tiered price of its own."""
    chosen = PRICE_VARIANTS if variants is None else variants
    base = draw(tiered_prices(places))
    keys = draw(st.sets(st.sampled_from([(f, v) for f, vs in chosen.items() for v in vs]),
                        max_size=max_variants))
    return Price(base.input, base.output, cache_read=base.cache_read,
                 cache_write=base.cache_write, cache_write_1h=base.cache_write_1h,
                 tiers=base.tiers, variants=tuple(
                     Variant(f, v, draw(tiered_prices(places))) for f, v in sorted(keys)))
