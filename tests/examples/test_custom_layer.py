"""examples/custom_layer.py: the ``Bulkhead`` layer, loaded by path as a user would run it.

The demo runs against the emulator; the layer is checked for option validation, its pure
``Slots`` policy (hypothesis), the slot coming back on every way a stream ends (the
abandoned one included), thread safety, and sync/async parity over generated scripts.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge import ChatRequest, from_config, registry, stack
from insightforge.errors import ConfigError, InsightForgeError, ProviderUnavailable, RateLimited
from insightforge.streams import AsyncChatStream, ChatStream
from insightforge.testing.scripted import ScriptedProvider, StreamStep
from insightforge.types import ChatResponse, TraceEvent

EXAMPLE = Path(__file__).parents[2] / "examples" / "custom_layer.py"


def _load() -> Any:
    if "custom_layer" in sys.modules:
        return sys.modules["custom_layer"]
    spec = importlib.util.spec_from_file_location("custom_layer", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_layer"] = module  # attrs resolves the module's annotations by name
    spec.loader.exec_module(module)
    return module


ex = _load()


def _in_flight(llm: Any) -> int:
    return int(llm.handler.in_flight)


def _boom() -> ProviderUnavailable:
    return ProviderUnavailable("upstream 503 (scripted)", provider="scripted")


def test_demo_runs_offline_against_the_emulator(emulator: Any) -> None:
    lines: list[str] = []
    facts = ex.main(emulator, report=lines.append)
    assert facts["answer"].text == "Echo: Hello through a bulkhead"
    assert [(e.layer, e.event) for e in facts["answer"].trace] == [("bulkhead", "admitted")]
    assert isinstance(facts["refused"], ex.BulkheadFull)
    assert facts["after_abandon"] == 0
    assert facts["async"] == ("Echo: streamed asynchronously", True)
    assert facts["configured"].text == "Echo: Hello from a config file"
    assert "Bulkhead(max_in_flight=2, name='emu')" in facts["onion"]
    # the refused call never reached the emulator: 1 call + 1 stream + 1 async stream + 1
    assert emulator.count(api="openai") == 4
    assert len(lines) == 6


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "2", None])
def test_bad_max_in_flight_is_a_config_error_naming_the_fix(value: object) -> None:
    with pytest.raises(ConfigError, match="max_in_flight must be a whole number >= 1") as info:
        ex.Bulkhead(max_in_flight=value)
    assert info.value.path.endswith("max_in_flight")


def test_bad_options_in_a_config_file_name_their_path() -> None:
    ex.register()
    assert registry.layer_factory("bulkhead") is ex.Bulkhead
    config = {"providers": {"s": {"type": "openai", "model": "m", "api_key": "sk-x"}},
              "stack": [{"bulkhead": {"max_in_flight": 0}}]}
    with pytest.raises(ConfigError) as info:
        from_config(config)
    assert "max_in_flight" in str(info.value) and "bulkhead" in info.value.path
    with pytest.raises(ConfigError, match="bad options for layer 'bulkhead'"):
        registry.create_layer("bulkhead", max_in_flight=2, colour="red")


@settings(max_examples=200, deadline=None)
@given(limit=st.integers(1, 5), ops=st.lists(st.booleans(), max_size=40))
def test_slots_never_exceed_the_limit_and_refuse_only_when_full(limit: int,
                                                               ops: list[bool]) -> None:
    slots, model = ex.Slots(limit), 0
    for take in ops:
        if take:
            taken = slots.take()
            assert (taken is None) == (model == limit)
            if taken is not None:
                slots, model = taken, model + 1
        elif model:
            slots, model = slots.give(), model - 1
        else:
            with pytest.raises(RuntimeError, match="never taken"):
                slots.give()
        assert slots.used == model and 0 <= slots.used <= limit


def test_refusal_happens_before_any_upstream_call_and_is_a_rate_limited() -> None:
    provider = ScriptedProvider([StreamStep("a b c")])
    llm = stack(ex.Bulkhead(1, name="gpu"), provider=provider)
    stream: Any = llm(ChatRequest("hold", stream=True))
    with pytest.raises(RateLimited) as info:
        llm(ChatRequest("next"))
    assert isinstance(info.value, ex.BulkheadFull) and info.value.key == "gpu"
    assert "raise max_in_flight" in str(info.value)
    assert [(e.layer, e.event) for e in info.value.trace] == [("bulkhead", "refused")]
    assert len(provider.calls) == 1
    assert stream.collect().text == "a b c"
    assert [e.event for e in stream.response.trace] == ["admitted"]


def _ending(llm: Any, how: str) -> None:
    stream = llm(ChatRequest("x", stream=True))
    assert isinstance(stream, ChatStream)
    if how == "end":
        stream.collect()
    elif how == "error":
        with pytest.raises(ProviderUnavailable) as info:
            stream.collect()
        assert ("bulkhead", "admitted") in [(e.layer, e.event) for e in info.value.trace]
    elif how == "abandon":
        next(stream)
        stream.close()
    else:  # dropped unread: the stream's finaliser closes it
        next(stream)
        del stream
        gc.collect()


@pytest.mark.parametrize("how", ["end", "error", "abandon", "garbage"])
def test_every_way_a_stream_ends_gives_the_slot_back_once(how: str) -> None:
    steps = [StreamStep("one two three", error=_boom(), fail_after=1)] if how == "error" \
        else [StreamStep("one two three")]
    llm = stack(ex.Bulkhead(1), provider=ScriptedProvider(steps))
    _ending(llm, how)
    assert _in_flight(llm) == 0
    again: Any = llm(ChatRequest("again"))
    assert again.text == "Echo: again"
    assert _in_flight(llm) == 0


@pytest.mark.parametrize("how", ["end", "error", "abandon"])
def test_async_streams_give_the_slot_back_too(how: str) -> None:
    steps = [StreamStep("one two three", error=_boom(), fail_after=1)] if how == "error" \
        else [StreamStep("one two three")]
    llm = stack(ex.Bulkhead(1), provider=ScriptedProvider(steps))

    async def run() -> None:
        stream = await llm.acall(ChatRequest("x", stream=True))
        assert isinstance(stream, AsyncChatStream)
        if how == "end":
            await stream.collect()
        elif how == "error":
            with pytest.raises(ProviderUnavailable):
                await stream.collect()
        else:
            await stream.__anext__()
            await stream.aclose()
        assert _in_flight(llm) == 0
        again: Any = await llm.acall(ChatRequest("again"))
        assert again.text == "Echo: again"

    asyncio.run(run())


def test_a_failing_call_gives_the_slot_back_and_carries_the_admission() -> None:
    llm = stack(ex.Bulkhead(1), provider=ScriptedProvider([_boom(), ValueError("not ours")]))
    with pytest.raises(ProviderUnavailable) as info:
        llm(ChatRequest("x"))
    assert [(e.layer, e.event) for e in info.value.trace] == [("bulkhead", "admitted")]
    with pytest.raises(ValueError):
        llm(ChatRequest("x"))
    assert _in_flight(llm) == 0


def test_threads_never_have_more_than_the_limit_in_flight() -> None:
    active, peak, lock = [0], [0], threading.Lock()

    def slow(request: ChatRequest) -> ChatResponse:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.005)
        with lock:
            active[0] -= 1
        return ScriptedProvider()(request)  # type: ignore[return-value]

    llm = stack(ex.Bulkhead(3), provider=slow)
    outcomes: list[str] = []

    def worker() -> None:
        for _ in range(10):
            try:
                llm(ChatRequest("x"))
                outcomes.append("ok")
            except ex.BulkheadFull:
                outcomes.append("refused")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(outcomes) == 80 and "refused" in outcomes and "ok" in outcomes
    assert peak[0] <= 3 and _in_flight(llm) == 0


# -- sync/async parity over generated scripts -----------------------------------------------
Action = tuple[str, str]
actions = st.lists(st.tuples(st.sampled_from(["call", "fail", "open", "open_failing",
                                               "drain", "abandon"]),
                             st.sampled_from(["alpha", "beta gamma", "delta epsilon zeta"])),
                   max_size=12)


def _events(trace: tuple[TraceEvent, ...]) -> list[tuple[Any, ...]]:
    return [(e.layer, e.event, e.detail, dict(e.data)) for e in trace]


def _error(exc: BaseException) -> tuple[Any, ...]:
    trace = exc.trace if isinstance(exc, InsightForgeError) else ()
    return ("error", type(exc).__name__, str(exc), _events(trace))


def _step(kind: str, text: str) -> Any:
    if kind == "fail":
        return _boom()
    if kind == "open_failing":
        return StreamStep(text, error=_boom(), fail_after=1)
    return StreamStep(text) if kind == "open" else text


def _run_sync(limit: int, script: list[Action]) -> list[Any]:
    provider = ScriptedProvider()
    llm = stack(ex.Bulkhead(limit), provider=provider)
    open_: list[Any] = []
    out: list[Any] = []
    for kind, text in script:
        try:
            if kind in ("drain", "abandon"):
                if not open_:
                    continue
                stream = open_.pop(0)
                if kind == "drain":
                    r = stream.collect()
                    out.append(("drained", r.text, _events(r.trace)))
                else:
                    stream.close()
                    out.append(("abandoned",))
            else:
                provider.push(_step(kind, text))
                result = llm(ChatRequest(text, stream=kind.startswith("open")))
                if isinstance(result, ChatStream):
                    open_.append(result)
                    out.append(("opened",))
                else:
                    out.append(("answer", result.text, _events(result.trace)))
        except Exception as exc:
            out.append(_error(exc))
        out.append(_in_flight(llm))
    return out


async def _run_async(limit: int, script: list[Action]) -> list[Any]:
    provider = ScriptedProvider()
    llm = stack(ex.Bulkhead(limit), provider=provider)
    open_: list[Any] = []
    out: list[Any] = []
    for kind, text in script:
        try:
            if kind in ("drain", "abandon"):
                if not open_:
                    continue
                stream = open_.pop(0)
                if kind == "drain":
                    r = await stream.collect()
                    out.append(("drained", r.text, _events(r.trace)))
                else:
                    await stream.aclose()
                    out.append(("abandoned",))
            else:
                provider.push(_step(kind, text))
                result = await llm.acall(ChatRequest(text, stream=kind.startswith("open")))
                if isinstance(result, AsyncChatStream):
                    open_.append(result)
                    out.append(("opened",))
                else:
                    out.append(("answer", result.text, _events(result.trace)))
        except Exception as exc:
            out.append(_error(exc))
        out.append(_in_flight(llm))
    for stream in open_:
        await stream.aclose()
    return out


@settings(max_examples=80, deadline=None)
@given(limit=st.integers(1, 3), script=actions)
def test_sync_and_async_agree(limit: int, script: list[Action]) -> None:
    sync = _run_sync(limit, script)
    gc.collect()  # the sync side's leftover open streams are closed by their finalisers
    assert sync == asyncio.run(_run_async(limit, script))
