"""The invariant of the ``OpenTelemetry`` layer, with hypothesis: every request ends exactly
one span, whatever it is — an answer, a failure, a stream read to its end, failing mid-way,
closed half way or dropped unread, an embedding, a retried call — sync or async. A span
processor of the real SDK counts every start and every end of every span."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, EmbedRequest, stack
from insightforge.errors import AuthenticationError, ContentFiltered
from insightforge.testing import FakeClock
from insightforge.testing.scripted import ScriptedProvider, StreamStep
from middleware import Retry
from tests.middleware._otel_kit import Telemetry, boom

KINDS = ("answer", "fail", "stream_end", "stream_fail", "stream_close", "stream_drop",
         "embed", "retried")


def _denied() -> AuthenticationError:
    return AuthenticationError("denied (scripted)", provider="scripted", status=401)


def _steps(kind: int, k: int, retry: bool) -> list[Any]:
    """What the provider is scripted to do for one action (nothing is left unused)."""
    name = KINDS[kind]
    if name == "fail":
        return [_denied()]
    if name == "stream_fail":
        return [StreamStep("w1 w2 w3 w4", error=ContentFiltered("filtered (scripted)",
                                                                provider="scripted"),
                           fail_after=k)]
    if name == "retried":
        return [boom(), "after a retry"] if retry else [boom()]
    if name == "embed":
        return []
    return ["w1 w2 w3 w4"]


def _expected(kind: int, retry: bool) -> str:
    name = KINDS[kind]
    if name in ("fail", "stream_fail") or (name == "retried" and not retry):
        return "error"
    if name in ("stream_close", "stream_drop"):
        return "abandoned"
    return "ok"


def _request(kind: int) -> Any:
    name = KINDS[kind]
    if name == "embed":
        return EmbedRequest(["some text"])
    return ChatRequest("go", stream=name.startswith("stream"))


def _run_sync(llm: Any, kind: int, k: int) -> None:
    name = KINDS[kind]
    try:
        result = llm(_request(kind))
        if name in ("stream_end", "stream_fail"):
            for _ in result:
                pass
        elif name in ("stream_close", "stream_drop"):
            it = iter(result)
            for _ in range(k):
                next(it)
            if name == "stream_close":
                result.close()
            del it, result
            gc.collect()
    except (AuthenticationError, ContentFiltered, type(boom())):
        pass


async def _run_async(llm: Any, kind: int, k: int) -> None:
    name = KINDS[kind]
    try:
        result = await llm.acall(_request(kind))
        if name in ("stream_end", "stream_fail"):
            async for _ in result:
                pass
        elif name in ("stream_close", "stream_drop"):
            for _ in range(k):
                await result.__anext__()
            if name == "stream_close":
                await result.aclose()
            del result
            gc.collect()
    except (AuthenticationError, ContentFiltered, type(boom())):
        pass


@settings(max_examples=60)
@given(actions=st.lists(st.tuples(st.integers(0, len(KINDS) - 1), st.integers(0, 2),
                                  st.booleans()), min_size=1, max_size=8),
       retry=st.booleans())
def test_every_request_ends_exactly_one_span(actions: list[tuple[int, int, bool]],
                                             retry: bool) -> None:
    tel = Telemetry()
    provider = ScriptedProvider()
    clock = FakeClock()
    layers = [Retry(attempts=2, clock=clock, sleep=clock.sleep, asleep=clock.asleep)] \
        if retry else []
    llm = stack(tel.layer(), *layers, provider=provider)
    for kind, k, use_async in actions:
        provider.push(*_steps(kind, k, retry))
        if use_async:
            asyncio.run(_run_async(llm, kind, k))
        else:
            _run_sync(llm, kind, k)
    spans = tel.spans()
    assert len(spans) == len(actions)
    assert tel.ends.open_spans() == set()
    assert all(count == 1 for count in tel.ends.ended.values())
    assert len(tel.ends.ended) == len(actions)
    assert [s.attributes["insightforge.outcome"] for s in spans] == \
        [_expected(kind, retry) for kind, _, _ in actions]
    tel.shutdown()
