"""providers.OpenAI against the loopback emulator with the real openai SDK.

Also holds the fault table shared by the other OpenAI-wire providers' tests (``FAULTS``,
``assert_fault``): every fault kind and the error type it must become.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

import insightforge
from insightforge import ChatRequest, EmbedRequest, Message, Tool
from insightforge.errors import (
    AuthenticationError,
    CredentialError,
    InsightForgeError,
    MalformedResponse,
    ProviderUnavailable,
    RateLimitError,
    Timeout,
)
from insightforge.testing.emulator import Emulator, Fault
from providers.openai import OpenAI
from tests.conftest import TEST_OPENAI_KEY

Factory = Callable[..., Any]
PROMPT = "hello there world"
TOOL = Tool("lookup", "Look a word up", {"type": "object",
                                         "properties": {"word": {"type": "string"}}})

# fault -> (error type, fails before the first chunk when streamed)
FAULTS: list[tuple[str, Fault, type[Exception]]] = [
    ("401", Fault.status(401), AuthenticationError),
    ("429", Fault.status(429, retry_after=7), RateLimitError),
    ("429ms", Fault.status(429, retry_after_ms=1500), RateLimitError),
    ("503", Fault.status(503), ProviderUnavailable),
    ("stall", Fault.stall(), Timeout),
    ("drop", Fault.drop(), ProviderUnavailable),
    ("malformed", Fault.malformed(), MalformedResponse),
    ("wrong_shape", Fault.wrong_shape(), MalformedResponse),
]
STREAM_FAULTS: list[tuple[str, Fault, type[Exception]]] = [
    ("truncate", Fault.truncate(1), ProviderUnavailable),
    ("mid_stream_error", Fault.stream_error(1), ProviderUnavailable),
    ("wrong_shape", Fault.wrong_shape(), MalformedResponse),
    ("stall", Fault.stall(), Timeout),
    ("429", Fault.status(429, retry_after=2), RateLimitError),
]


def openai_provider(emu: Emulator, **kw: Any) -> OpenAI:
    kw.setdefault("timeout", 5)
    return OpenAI(base_url=emu.openai_url, api_key=TEST_OPENAI_KEY, **kw)


def assert_fault(name: str, error: BaseException, expected: type[Exception],
                 secret: str) -> None:
    """The mapped error: right type, retry hints, never a secret or a raw SDK type."""
    assert isinstance(error, expected), (name, repr(error))
    if name == "429":
        assert getattr(error, "retry_after", None) in (7.0, 2.0)
    if name == "429ms":
        assert getattr(error, "retry_after", None) == 1.5
    assert secret not in str(error) and secret not in repr(error)


def check_chat_family(make: Factory, emu: Emulator, *, priced: bool) -> None:
    """Chat sync/async/stream agree, usage and cost set (used by every OpenAI-wire test)."""
    with make(emu) as p:
        plain = p(ChatRequest(PROMPT))
        assert plain.text == "Echo: " + PROMPT
        assert plain.usage.input_tokens == 6 and plain.usage.output_tokens == 4
        assert (plain.cost_usd is not None and plain.cost_usd > 0) == priced
        stream = p(ChatRequest(PROMPT, stream=True))
        pieces = [c.text for c in stream]
        assert "".join(pieces) == plain.text and len(pieces) > 1
        assert stream.response.text == plain.text
        assert stream.response.usage == plain.usage
        assert stream.response.cost_usd == plain.cost_usd
        assert stream.response.id and stream.response.finish_reason == "stop"

        async def both() -> tuple[Any, Any]:
            answer = await p.acall(ChatRequest(PROMPT))
            astream = await p.acall(ChatRequest(PROMPT, stream=True))
            await astream.collect()
            await p.aclose()
            return answer, astream.response

        answer, streamed = asyncio.run(both())
        assert answer.text == streamed.text == plain.text
        assert answer.usage == streamed.usage == plain.usage
        assert answer.cost_usd == streamed.cost_usd == plain.cost_usd


def test_chat_sync_async_stream_agree(emulator: Emulator) -> None:
    check_chat_family(openai_provider, emulator, priced=True)


def test_cost_is_the_price_table(emulator: Emulator) -> None:
    with openai_provider(emulator, model="gpt-4o") as p:
        r = p(ChatRequest(PROMPT))
    assert r.cost_usd == (Decimal("2.50") * 6 + Decimal(10) * 4) / 1_000_000
    with openai_provider(emulator, price={"input": 1, "output": 2}) as p:
        assert p(ChatRequest(PROMPT)).cost_usd == Decimal(14) / 1_000_000


def test_request_on_the_wire(emulator: Emulator) -> None:
    with openai_provider(emulator, organization="org-1") as p:
        p(ChatRequest(PROMPT, max_tokens=5, stop=["x"], seed=3, temperature=0.1,
                      options={"user": "u1"}, tags={"tenant": "acme"}))
        p(ChatRequest(PROMPT, model="o3-mini", max_tokens=5))
    first, second = (r.body for r in emulator.requests)
    assert isinstance(first, dict) and isinstance(second, dict)
    assert first["max_tokens"] == 5 and first["seed"] == 3 and first["user"] == "u1"
    assert "acme" not in json.dumps(first)
    assert second["max_completion_tokens"] == 5 and "max_tokens" not in second
    assert emulator.requests[0].headers.get("openai-organization") == "org-1"


def test_tools_round_trip(emulator: Emulator) -> None:
    with openai_provider(emulator) as p:
        first = p(ChatRequest(PROMPT, tools=[TOOL], tool_choice="lookup"))
        assert first.finish_reason == "tool_calls" and first.tool_calls
        call = first.tool_calls[0]
        assert call.name == "lookup" and json.loads(call.arguments) is not None
        stream = p(ChatRequest(PROMPT, tools=[TOOL], tool_choice="lookup", stream=True))
        streamed = stream.collect().tool_calls
        assert [(c.name, c.arguments) for c in streamed] == [(call.name, call.arguments)]
        follow = p(ChatRequest([Message("user", PROMPT), first.message,
                                Message("tool", "a greeting", tool_call_id=call.id)],
                               tools=[TOOL]))
    sent = emulator.requests[-1].body
    assert isinstance(sent, dict)
    assert sent["messages"][1]["tool_calls"][0]["id"] == call.id
    assert sent["messages"][2] == {"role": "tool", "content": "a greeting",
                                   "tool_call_id": call.id}
    assert follow.text


def test_json_mode(emulator: Emulator) -> None:
    with openai_provider(emulator) as p:
        r = p(ChatRequest(PROMPT, response_format="json"))
    json.loads(r.text)
    body = emulator.requests[-1].body
    assert isinstance(body, dict) and body["response_format"] == {"type": "json_object"}


def test_embeddings_sync_and_async(emulator: Emulator) -> None:
    with openai_provider(emulator) as p:
        r = p(EmbedRequest(["one two", "three"], dimensions=4))
        assert len(r.vectors) == 2 and all(len(v) == 4 for v in r.vectors)
        assert r.usage.input_tokens == 3 and r.cost_usd == Decimal("0.02") * 3 / 1_000_000
        ar = asyncio.run(p.acall(EmbedRequest(["one two", "three"], dimensions=4)))
        assert ar.vectors == r.vectors


def test_check_and_acheck(emulator: Emulator) -> None:
    with openai_provider(emulator) as p:
        p.check()
        asyncio.run(p.acheck())
    assert emulator.count(path="/v1/models") == 2


@pytest.mark.parametrize(("name", "fault", "expected"), FAULTS, ids=[f[0] for f in FAULTS])
def test_faults_map_to_documented_errors(emulator: Emulator, name: str, fault: Fault,
                                         expected: type[Exception]) -> None:
    with openai_provider(emulator, timeout=0.5) as p:
        emulator.script(fault)
        with pytest.raises(InsightForgeError) as info:
            p(ChatRequest(PROMPT))
        assert_fault(name, info.value, expected, TEST_OPENAI_KEY)
        emulator.script(fault)
        with pytest.raises(InsightForgeError) as ainfo:
            asyncio.run(p.acall(ChatRequest(PROMPT)))
        assert_fault(name, ainfo.value, expected, TEST_OPENAI_KEY)


@pytest.mark.parametrize(("name", "fault", "expected"), STREAM_FAULTS,
                         ids=[f[0] for f in STREAM_FAULTS])
def test_stream_faults_map_to_documented_errors(emulator: Emulator, name: str, fault: Fault,
                                                expected: type[Exception]) -> None:
    with openai_provider(emulator, timeout=0.5) as p:
        emulator.script(fault)
        with pytest.raises(InsightForgeError) as info:
            p(ChatRequest(PROMPT, stream=True)).collect()
        assert_fault(name, info.value, expected, TEST_OPENAI_KEY)

        async def go() -> None:
            stream = await p.acall(ChatRequest(PROMPT, stream=True))
            await stream.collect()

        emulator.script(fault)
        with pytest.raises(InsightForgeError) as ainfo:
            asyncio.run(go())
        assert_fault(name, ainfo.value, expected, TEST_OPENAI_KEY)


def test_one_malformed_stream_event_is_skipped_with_a_trace_event(emulator: Emulator) -> None:
    with openai_provider(emulator) as p:
        emulator.script(Fault.malformed())
        stream = p(ChatRequest(PROMPT, stream=True))
        assert "".join(c.text for c in stream) == f"Echo: {PROMPT}"  # no garbage in the text
        (event,) = stream.response.trace
        assert (event.layer, event.event, event.data["count"]) == ("stream", "skipped", 1)

        async def go() -> Any:
            stream = await p.acall(ChatRequest(PROMPT, stream=True))
            return await stream.collect()

        emulator.script(Fault.malformed())
        assert asyncio.run(go()).text == f"Echo: {PROMPT}"


def test_a_malformed_stream_event_fails_the_stream_when_asked(emulator: Emulator) -> None:
    with openai_provider(emulator, malformed_events="fail") as p:
        emulator.script(Fault.malformed())
        with pytest.raises(MalformedResponse):
            p(ChatRequest(PROMPT, stream=True)).collect()


def test_content_filter_is_a_finish_reason(emulator: Emulator) -> None:
    with openai_provider(emulator) as p:
        emulator.script(Fault.content_filter())
        r = p(ChatRequest(PROMPT))
        assert r.finish_reason == "content_filter" and r.text == ""
        emulator.script(Fault.content_filter())
        assert p(ChatRequest(PROMPT, stream=True)).collect().finish_reason == "content_filter"


def test_closing_a_stream_early_closes_the_response(emulator: Emulator) -> None:
    with openai_provider(emulator) as p:
        stream = p(ChatRequest("one two three four five six", stream=True))
        next(iter(stream))
        stream.close()
        with pytest.raises(RuntimeError):
            _ = stream.response
        assert p(ChatRequest(PROMPT)).text  # the pool is still healthy


def test_refused_connection_is_provider_unavailable() -> None:
    with OpenAI(base_url="http://127.0.0.1:9/v1", api_key=TEST_OPENAI_KEY, timeout=2) as p, \
            pytest.raises(ProviderUnavailable):
        p(ChatRequest(PROMPT))


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("INSIGHTFORGE_NO_KEYRING", "1")
    with pytest.raises(CredentialError, match="OPENAI_API_KEY"):
        OpenAI()


def test_key_from_environment_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    # A private emulator: on the session-shared one, a request left running by an earlier
    # test (an abandoned stream, a background retry) could land last in the log or take
    # the scripted 401, and this test would read the wrong request.
    monkeypatch.setenv("OPENAI_API_KEY", TEST_OPENAI_KEY)
    with Emulator() as emulator:
        p = OpenAI(base_url=emulator.openai_url, timeout=5)
        assert TEST_OPENAI_KEY not in repr(p) and TEST_OPENAI_KEY not in str(vars(p))
        p(ChatRequest(PROMPT))
        (sent,) = emulator.requests
        assert sent.headers["authorization"] == f"Bearer {TEST_OPENAI_KEY}"
        emulator.script(Fault.status(401, message=f"bad key {TEST_OPENAI_KEY}"), api="openai")
        with pytest.raises(AuthenticationError) as info:
            p(ChatRequest(PROMPT))
        assert emulator.count(api="openai") == 2
        assert TEST_OPENAI_KEY not in str(info.value) and TEST_OPENAI_KEY not in repr(info.value)
        p.close()


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(insightforge.errors.ConfigError, match="timeout"):
        OpenAI(api_key=TEST_OPENAI_KEY, timeout=float("inf"))


def test_create_provider_by_name(emulator: Emulator) -> None:
    p = insightforge.create_provider("openai", model="gpt-4o", base_url=emulator.openai_url,
                                     api_key=TEST_OPENAI_KEY)
    assert isinstance(p, OpenAI) and p.routes()[0].price is not None
    assert p(ChatRequest(PROMPT)).model == "gpt-4o"
    p.close()
