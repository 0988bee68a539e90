"""What the capability checks share: reading a provider's capabilities, asking the same
request sync, async and streamed, and proving a refusal happens before any network call.

What must not: the checks themselves (``media_checks``, ``feature_checks``).
"""

from __future__ import annotations

from typing import Any

import attrs

from insightforge.errors import Unsupported
from insightforge.testing.conformance.chat_checks import aread_stream, facts, read_stream
from insightforge.testing.conformance.spec import CheckFailed, Kit, expect
from insightforge.types import ChatRequest, ChatResponse

__all__ = ["KNOWN", "ask_three_ways", "capabilities", "expect_refused"]

KNOWN = frozenset({"images", "audio", "files", "structured_output", "reasoning",
                   "prompt_caching", "parallel_tools"})
"""The capability names a provider may declare (``provider.capabilities``)."""


def capabilities(provider: Any) -> frozenset[str]:
    """The provider's declared capabilities (none when it declares nothing)."""
    declared: Any = getattr(provider, "capabilities", frozenset())
    if not isinstance(declared, (frozenset, set)):
        raise CheckFailed(f"capabilities: provider.capabilities must be a frozenset of names, "
                          f"got {declared!r}")
    unknown = sorted(set(declared) - KNOWN)
    expect(not unknown, f"capabilities: unknown names {unknown}; use {sorted(KNOWN)}")
    return frozenset(declared)


def ask_three_ways(kit: Kit, provider: Any, request: ChatRequest,
                   what: str) -> tuple[ChatResponse, ChatResponse, ChatResponse]:
    """``(plain, async, streamed)`` answers to ``request``; the stream's chunks must join
    to its text, and its reasoning deltas to its reasoning. A provider that declares the
    capability but refuses it fails the check, saying so."""
    try:
        return _three_ways(kit, provider, request, what)
    except Unsupported as exc:
        raise CheckFailed(f"{what}: the provider declares it in capabilities but raised "
                          f"Unsupported ({exc}); map it, or leave it out of capabilities") \
            from exc


def _three_ways(kit: Kit, provider: Any, request: ChatRequest,
                what: str) -> tuple[ChatResponse, ChatResponse, ChatResponse]:
    plain = provider(request)
    expect(isinstance(plain, ChatResponse), f"{what}: expected a ChatResponse, got "
           f"{type(plain).__name__}")
    later = kit.arun(provider.acall(request))
    expect(isinstance(later, ChatResponse), f"{what} (async): expected a ChatResponse")
    streaming = attrs.evolve(request, stream=True)
    stream = provider(streaming)
    reasoning: list[str] = []

    def collect(chunk: Any) -> None:
        reasoning.append(chunk.reasoning)

    joined, streamed = read_stream(stream.wrap(on_chunk=collect) if hasattr(stream, "wrap")
                                   else stream, f"{what} (stream)")
    expect(joined == streamed.text, f"{what} (stream): chunks join to {joined!r}, but the "
           f"response text is {streamed.text!r}")
    expect("".join(reasoning) == streamed.reasoning, f"{what} (stream): reasoning deltas "
           f"join to {''.join(reasoning)!r}, but response.reasoning is "
           f"{streamed.reasoning!r}")

    async def astream() -> ChatResponse:
        return (await aread_stream(await provider.acall(streaming), f"{what} (async stream)"))[1]

    later_stream = kit.arun(astream())
    expect(facts(later_stream)["text"] == facts(streamed)["text"],
           f"{what}: the async stream answered {later_stream.text!r}, the sync stream "
           f"{streamed.text!r}")
    return plain, later, streamed


def expect_refused(kit: Kit, provider: Any, request: ChatRequest, capability: str) -> None:
    """Without ``capability``, ``request`` raises ``Unsupported`` naming the provider, sync
    and async, plain and streamed, and nothing reaches the server."""
    kit.emulator.reset()
    variants = (request, attrs.evolve(request, stream=True))
    for where in ("sync", "async"):
        for variant in variants:
            label = f"{capability} ({where}{', stream' if variant.stream else ''})"
            try:
                if where == "sync":
                    provider(variant)
                else:
                    kit.arun(provider.acall(variant))
            except Unsupported as exc:
                expect(exc.provider == provider.name,
                       f"{label}: Unsupported.provider is {exc.provider!r}")
                expect(provider.name in str(exc), f"{label}: the error must name the "
                       f"provider: {exc}")
                continue
            except Exception as exc:
                raise CheckFailed(f"{label}: the provider does not declare {capability!r}, so "
                                  f"Unsupported is expected; got {exc!r}") from exc
            raise CheckFailed(f"{label}: the provider does not declare {capability!r} but "
                              "answered; declare it in provider.capabilities, or refuse the "
                              "request with Unsupported (never answer without it)")
    sent = kit.emulator.count()
    expect(sent == 0, f"{capability}: {sent} requests reached the server; refuse before any "
           "network call")
