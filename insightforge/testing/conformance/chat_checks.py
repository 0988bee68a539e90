"""Conformance checks of a provider's answers: shapes, streams, parity, tools, embeddings.

Each check is ``check(kit) -> None`` and raises :class:`CheckFailed` saying what was
expected and what came. Properties are hypothesis-driven over requests every emulated
vendor accepts (each example is a real HTTP call, so examples are few). The emulator's
reply rules (``"Echo: <last user message>"``, one token per word, ``max_tokens`` cuts
words) make the exact answer known in advance.

What must not: fault injection and error mapping (``error_checks``).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from insightforge.errors import Unsupported
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.testing.conformance.spec import CheckFailed, Kit, expect
from insightforge.testing.emulator.schema_instance import tool_arguments
from insightforge.testing.strategies import (
    booleans,
    check_property,
    conformance_chat_requests,
    conformance_embed_requests,
)
from insightforge.types import (
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    Message,
    Tool,
)

__all__ = ["check_chat_shape", "check_embeddings", "check_stream_assembly",
           "check_sync_async_parity", "check_tools", "expected_reply", "facts"]


def expected_reply(request: ChatRequest) -> tuple[str, str, int]:
    """(text, finish_reason, input_tokens) the emulator answers ``request`` with."""
    users = [m.text for m in request.messages if m.role == "user"]
    text = "Echo: " + users[-1]
    finish = "stop"
    if request.max_tokens is not None and len(text.split()) > request.max_tokens:
        text, finish = " ".join(text.split()[: request.max_tokens]), "length"
    prompt = sum(len(m.text.split()) + 3 for m in request.messages)
    return text, finish, prompt


def facts(response: ChatResponse) -> dict[str, Any]:
    """What must be equal between two answers to the same request (not ids, not trace)."""
    return {"text": response.text, "usage": response.usage,
            "finish_reason": response.finish_reason, "model": response.model,
            "provider": response.provider, "cost_usd": response.cost_usd,
            "tool_calls": [(c.name, c.arguments) for c in response.tool_calls]}


def _diff(a: dict[str, Any], b: dict[str, Any], what: str) -> None:
    bad = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    if bad:
        detail = "; ".join(f"{k}: {x!r} != {y!r}" for k, (x, y) in bad.items())
        raise CheckFailed(f"{what} differ: {detail}")


def _price(provider: Any) -> Any:
    routes = provider.routes()
    return routes[0].price if routes else None


def assert_response(kit: Kit, provider: Any, request: ChatRequest, response: Any,
                    where: str) -> None:
    """``response`` is the well-formed, exact answer the emulator gives ``request``."""
    expect(isinstance(response, ChatResponse),
           f"{where}: expected a ChatResponse, got {type(response).__name__}")
    text, finish, prompt = expected_reply(request)
    expect(response.text == text, f"{where}: text {response.text!r}, expected {text!r} "
           f"(the emulator echoes the last user message) for {request.messages!r}")
    expect(response.finish_reason == finish,
           f"{where}: finish_reason {response.finish_reason!r}, expected {finish!r} "
           "(normalise the vendor's reason to stop/length/tool_calls/content_filter)")
    expect(response.provider == provider.name,
           f"{where}: provider {response.provider!r}, expected {provider.name!r}")
    expect(isinstance(response.model, str) and response.model,
           f"{where}: model must be a non-empty string, got {response.model!r}")
    expect(response.message.role == "assistant", f"{where}: message role must be assistant")
    usage = response.usage
    expect(usage.output_tokens == len(text.split()),
           f"{where}: usage.output_tokens {usage.output_tokens}, expected "
           f"{len(text.split())} (one per word)")
    expect(usage.input_tokens == prompt,
           f"{where}: usage.input_tokens {usage.input_tokens}, expected {prompt} (words of "
           "every message + 3 per message: a message was lost or mangled?)")
    _assert_cost(kit, provider, response, where)


def _assert_cost(kit: Kit, provider: Any, response: Any, where: str) -> None:
    price = _price(provider)
    priced = kit.spec.priced if kit.spec.priced is not None else price is not None
    if not priced:
        expect(response.cost_usd is None or isinstance(response.cost_usd, Decimal),
               f"{where}: cost_usd must be a Decimal or None, got {response.cost_usd!r}")
        return
    expect(isinstance(response.cost_usd, Decimal),
           f"{where}: cost_usd must be a Decimal for a priced model, got {response.cost_usd!r}")
    if price is not None:
        want = price.cost(response.usage)
        expect(response.cost_usd == want,
               f"{where}: cost_usd {response.cost_usd} != price.cost(usage) {want}")


def read_stream(stream: Any, where: str) -> tuple[str, ChatResponse]:
    """The joined chunk texts and the assembled response of a sync stream."""
    expect(isinstance(stream, ChatStream),
           f"{where}: stream=True must return a ChatStream, got {type(stream).__name__}")
    with stream:
        parts = [chunk.text for chunk in stream]
    return "".join(parts), stream.response


async def aread_stream(stream: Any, where: str) -> tuple[str, ChatResponse]:
    """The async twin of :func:`read_stream`."""
    expect(isinstance(stream, AsyncChatStream),
           f"{where}: stream=True must return an AsyncChatStream, got {type(stream).__name__}")
    async with stream:
        parts = [chunk.text async for chunk in stream]
    return "".join(parts), stream.response


def check_chat_shape(kit: Kit) -> None:
    """Answers are ChatResponses with the exact text, usage, finish reason, provider, cost."""
    provider = kit.build()

    def prop(request: ChatRequest) -> None:
        assert_response(kit, provider, request, provider(request), "sync chat")

    check_property(prop, conformance_chat_requests(), examples=kit.spec.examples)


def _stream_matches(kit: Kit, plain: ChatResponse, joined: str, streamed: ChatResponse,
                    where: str) -> None:
    expect(joined == streamed.text,
           f"{where}: the chunks join to {joined!r} but .response.text is {streamed.text!r}")
    _diff_streamed(kit, plain, streamed, f"{where}: the streamed answer and the plain answer")


def _diff_streamed(kit: Kit, plain: ChatResponse, streamed: ChatResponse, what: str) -> None:
    a, b = facts(plain), facts(streamed)
    if not kit.spec.stream_usage:  # the server reports no usage in streams: skip usage, cost
        for key in ("usage", "cost_usd"):
            a.pop(key), b.pop(key)
    _diff(a, b, what)


def check_stream_assembly(kit: Kit) -> None:
    """A stream's chunks join to its ``.response``, which equals the non-streamed answer."""
    provider = kit.build()

    def prop(request: ChatRequest) -> None:
        plain = provider(request)
        joined, streamed = read_stream(provider(_streaming(request)), "sync stream")
        _stream_matches(kit, plain, joined, streamed, "sync stream")

    check_property(prop, conformance_chat_requests(), examples=kit.spec.examples)


def _streaming(request: ChatRequest) -> ChatRequest:
    import attrs

    return attrs.evolve(request, stream=True)


def check_sync_async_parity(kit: Kit) -> None:
    """``await provider.acall(r)`` answers exactly as ``provider(r)``, streams included."""
    provider = kit.build()

    def prop(request: ChatRequest, stream: bool) -> None:
        sync = provider(request)
        if not stream:
            _diff(facts(sync), facts(kit.arun(provider.acall(request))),
                  "sync and async answers")
            return
        req = _streaming(request)

        async def run() -> tuple[str, ChatResponse]:
            return await aread_stream(await provider.acall(req), "async stream")

        joined, streamed = kit.arun(run())
        _stream_matches(kit, sync, joined, streamed, "async stream")

    check_property(prop, conformance_chat_requests(), booleans(), examples=kit.spec.examples)


_TOOL = Tool("get_weather", "The weather in a city.",
             {"type": "object", "properties": {"city": {"type": "string"}},
              "required": ["city"]})


def check_tools(kit: Kit) -> None:
    """A tool call comes back mapped (sync, async, streamed) and a tool result round-trips."""
    if not kit.spec.tools:
        return
    provider = kit.build()
    ask = ChatRequest([Message("user", "weather in Paris")], tools=[_TOOL])
    first = provider(ask)
    expect(isinstance(first, ChatResponse), "tools: expected a ChatResponse")
    expect(len(first.tool_calls) == 1,
           f"tools: expected one tool call, got {first.tool_calls!r} (text {first.text!r})")
    call = first.tool_calls[0]
    expect(call.name == "get_weather", f"tools: tool name {call.name!r} != 'get_weather'")
    want = tool_arguments(dict(_TOOL.parameters), "weather in Paris")
    expect(_json(call.arguments) == want,
           f"tools: arguments {call.arguments!r} are not the JSON the model wrote ({want})")
    expect(bool(call.id), "tools: a tool call needs its id (the result message echoes it)")
    expect(first.finish_reason == "tool_calls",
           f"tools: finish_reason {first.finish_reason!r}, expected 'tool_calls'")
    _diff(facts(first), facts(kit.arun(provider.acall(ask))), "tools: sync and async calls")
    _, streamed = read_stream(provider(_streaming(ask)), "tools stream")
    _diff_streamed(kit, first, streamed, "tools: the streamed and the plain tool call")
    answer = ChatRequest([*ask.messages, Message("assistant", "", tool_calls=[call]),
                          Message("tool", "sunny and 21 C", tool_call_id=call.id)],
                         tools=[_TOOL])
    final = provider(answer)
    expect(final.text == "Echo: sunny and 21 C" and not final.tool_calls,
           f"tools: after the tool result the model should answer 'Echo: sunny and 21 C', "
           f"got text {final.text!r}, tool calls {final.tool_calls!r} "
           "(is the tool result message mapped?)")
    expect(final.finish_reason == "stop", f"tools: final finish_reason {final.finish_reason!r}")


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _assert_embedding(provider: Any, request: EmbedRequest, response: Any, where: str) -> None:
    expect(isinstance(response, EmbedResponse),
           f"{where}: expected an EmbedResponse, got {type(response).__name__}")
    vectors = response.vectors
    expect(len(vectors) == len(request.inputs),
           f"{where}: {len(vectors)} vectors for {len(request.inputs)} inputs")
    sizes = {len(v) for v in vectors}
    expect(len(sizes) == 1 and 0 not in sizes, f"{where}: vector sizes {sizes}")
    expect(all(isinstance(x, float) and math.isfinite(x) for v in vectors for x in v),
           f"{where}: vectors must hold finite floats")
    expect(response.provider == provider.name,
           f"{where}: provider {response.provider!r} != {provider.name!r}")
    expect(response.cost_usd is None or isinstance(response.cost_usd, Decimal),
           f"{where}: cost_usd must be a Decimal or None")


def check_embeddings(kit: Kit) -> None:
    """Embeddings: one vector per input, deterministic, equal sync/async; else Unsupported."""
    provider = kit.build()
    if not kit.spec.embeddings:
        _expect_unsupported(kit, provider)
        return

    def prop(request: EmbedRequest) -> None:
        sync = provider(request)
        _assert_embedding(provider, request, sync, "sync embeddings")
        again = kit.arun(provider.acall(request))
        _assert_embedding(provider, request, again, "async embeddings")
        expect(sync.vectors == again.vectors and sync.usage == again.usage,
               "embeddings: sync and async answers differ")
        ones = [provider(EmbedRequest(text)).vectors[0] for text in request.inputs[:2]]
        expect(ones == list(sync.vectors[: len(ones)]),
               "embeddings: a text embedded alone differs from the same text in a batch "
               "(vectors out of input order?)")

    check_property(prop, conformance_embed_requests(), examples=kit.spec.examples)


def _expect_unsupported(kit: Kit, provider: Any) -> None:
    request = EmbedRequest(["hello"])
    for where in ("sync", "async"):
        try:
            if where == "sync":
                provider(request)
            else:
                kit.arun(provider.acall(request))
        except Unsupported as exc:
            expect(exc.provider == provider.name,
                   f"embeddings ({where}): Unsupported.provider {exc.provider!r}")
            continue
        except Exception as exc:
            raise CheckFailed(f"embeddings ({where}): the spec says embeddings are not "
                              f"supported, so Unsupported is expected; got {exc!r}") from exc
        raise CheckFailed(f"embeddings ({where}): the spec says embeddings are not supported "
                          "but the call succeeded; set embeddings=True in the spec")
