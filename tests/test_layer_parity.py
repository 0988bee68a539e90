"""Sync/async parity of every built-in layer, streams included: the same generated script
through a fresh stack, once with ``llm(request)`` and once with ``await llm.acall(request)``,
gives the same answers, errors, chunks, traces (times aside), money in the ledger, waits on
the clock, records in the audit log and entries in the cache.

The stateful layers are flows run by the kit's two drivers, so this holds by construction;
this test is the proof, end to end, including Cache with streams, Budget with streams and
RateLimit with a token limit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, stack
from insightforge.errors import InsightForgeError, ProviderUnavailable, RateLimitError
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.testing import FakeClock
from insightforge.testing.scripted import ScriptedProvider, StreamStep
from middleware import AuditLog, Budget, Cache, Fallback, RateLimit, Retry

Step = tuple[str, str]  # (what the provider does, the prompt)

steps = st.lists(st.tuples(
    st.sampled_from(["answer", "fail", "throttle", "stream", "stream_fail", "abandon"]),
    st.sampled_from(["alpha", "beta gamma", "delta epsilon zeta", "alpha"])), max_size=8)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _layers(which: str, clock: FakeClock, log: logging.Logger) -> list[Any]:
    budget = Budget(limit_usd="0.0003", min_output_tokens=1, lease=60)
    limit = RateLimit(rpm=4, tpm=60, window=10, max_wait=100, clock=clock, sleep=clock.sleep,
                      asleep=clock.asleep)
    retry = Retry(attempts=2, clock=clock, sleep=clock.sleep, asleep=clock.asleep,
                  random=random.Random(7).random)
    alternate = ScriptedProvider(name="alt", model="alt-1")
    return {
        "cache": [Cache()],
        "budget": [budget],
        "ratelimit": [limit],
        "audit": [AuditLog(log, log_content=True, clock=lambda: 0.0, timer=clock)],
        "retry": [retry],
        "fallback": [Fallback(alternate)],
        "all six": [AuditLog(log, clock=lambda: 0.0, timer=clock), Cache(), budget,
                    Fallback(alternate), limit, retry],
    }[which]


def _script(kind: str, text: str) -> Any:
    if kind == "fail":
        return ProviderUnavailable("scripted 503", provider="scripted")
    if kind == "throttle":
        return RateLimitError("scripted 429", provider="scripted", retry_after=1.5)
    if kind == "stream_fail":
        return StreamStep(text + " more words", error=ProviderUnavailable(
            "cut", provider="scripted"), fail_after=1)
    if kind in ("stream", "abandon"):
        return StreamStep(text)
    return text


def _trace(trace: Any) -> list[tuple[Any, ...]]:
    return [(e.layer, e.event, e.detail, tuple(sorted(e.data.items()))) for e in trace]


def _answer(r: Any) -> tuple[Any, ...]:
    return ("answer", r.text, r.cached, str(r.cost_usd), r.usage, _trace(r.trace))


def _error(exc: BaseException) -> tuple[Any, ...]:
    trace = exc.trace if isinstance(exc, InsightForgeError) else ()
    return ("error", type(exc).__name__, str(exc), _trace(trace))


def _state(llm: Any, clock: FakeClock, logs: _Records) -> tuple[Any, ...]:
    ledgers, caches = [], []
    todo = [llm.handler]
    while todo:
        handler = todo.pop()
        layer = getattr(handler, "layer", None)
        if isinstance(layer, Budget):
            ledgers.append([(e.key, e.spent, e.reserved) for e in layer.store.entries()])
        if isinstance(layer, Cache):
            caches.append(layer.store.stats())
        todo.extend(getattr(handler, "children", lambda: ())())
    records = [{k: v for k, v in json.loads(line).items()  # the ids and hashes differ
                if k not in ("request_id", "hash", "prev_hash")} for line in logs.lines]
    return ledgers, caches, list(clock.sleeps), records


def _sync(which: str, script: list[Step]) -> list[Any]:
    clock, logs, log = FakeClock(), _Records(), _logger()
    log.addHandler(logs)
    provider = ScriptedProvider()
    llm = stack(*_layers(which, clock, log), provider=provider)
    out: list[Any] = []
    for kind, text in script:
        provider.push(_script(kind, text))
        request = ChatRequest(text, stream=kind.startswith(("stream", "abandon")),
                              max_tokens=8)
        try:
            result: Any = llm(request)
            if isinstance(result, ChatStream):
                if kind == "abandon":
                    out.append(("chunk", next(result).text))
                    result.close()
                    out.append("abandoned")
                    continue
                out.append(("chunks", [c.text for c in result]))
                result = result.response
            out.append(_answer(result))
        except Exception as exc:
            out.append(_error(exc))
    log.removeHandler(logs)
    return [*out, _state(llm, clock, logs)]


async def _async(which: str, script: list[Step]) -> list[Any]:
    clock, logs, log = FakeClock(), _Records(), _logger()
    log.addHandler(logs)
    provider = ScriptedProvider()
    llm = stack(*_layers(which, clock, log), provider=provider)
    out: list[Any] = []
    for kind, text in script:
        provider.push(_script(kind, text))
        request = ChatRequest(text, stream=kind.startswith(("stream", "abandon")),
                              max_tokens=8)
        try:
            result: Any = await llm.acall(request)
            if isinstance(result, AsyncChatStream):
                if kind == "abandon":
                    out.append(("chunk", (await result.__anext__()).text))
                    await result.aclose()
                    out.append("abandoned")
                    continue
                out.append(("chunks", [c.text async for c in result]))
                result = result.response
            out.append(_answer(result))
        except Exception as exc:
            out.append(_error(exc))
    log.removeHandler(logs)
    return [*out, _state(llm, clock, logs)]


_count = iter(range(10**9))


def _logger() -> logging.Logger:
    log = logging.getLogger(f"test.parity.{next(_count)}")
    log.setLevel(logging.INFO)
    log.propagate = False
    return log


@pytest.mark.parametrize("which", ["cache", "budget", "ratelimit", "audit", "retry",
                                   "fallback", "all six"])
@settings(max_examples=40, deadline=None)
@given(script=steps)
def test_every_layer_decides_alike_sync_and_async(which: str, script: list[Step]) -> None:
    sync = _sync(which, script)
    assert sync == asyncio.run(_async(which, script))
    if which in ("budget", "all six") and script:
        ledgers = sync[-1][0]
        assert all(reserved == 0 for rows in ledgers for _, _, reserved in rows)
        spent = sum(s for rows in ledgers for _, s, _ in rows)
        assert Decimal(spent) * Decimal("1e-9") <= Decimal("0.0003")
