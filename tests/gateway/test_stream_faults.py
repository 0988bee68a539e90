"""The gateway over a stack that survives faults, with the real openai and anthropic SDKs as
clients: per-request stream limits in the body, a stream continued mid-way on the alternate
(each chunk names the model producing it, the usage chunk the one that finished), and an
interrupted stream's error event."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from insightforge import ProviderUnavailable, stack
from insightforge.gateway import start
from insightforge.testing.emulator import Emulator, Fault
from insightforge.testing.scripted import ScriptedProvider, StreamStep
from middleware import Fallback, Retry
from providers import Anthropic, OpenAI
from tests.conftest import TEST_ANTHROPIC_KEY, TEST_OPENAI_KEY

KEY = "gw-stream-faults-key-0123456789"
PROMPT = "one two three four five six"


@pytest.fixture
def emulators() -> Iterator[tuple[Emulator, Emulator]]:
    with Emulator() as primary, Emulator() as alternate:
        yield primary, alternate


@pytest.fixture
def server(emulators: tuple[Emulator, Emulator]) -> Iterator[Any]:
    primary, alternate = emulators
    gpt = OpenAI("gpt-4o-mini", base_url=primary.openai_url, api_key=TEST_OPENAI_KEY,
                 timeout=5)
    claude = Anthropic("claude-sonnet-4-5", base_url=alternate.anthropic_url,
                       api_key=TEST_ANTHROPIC_KEY, timeout=5)
    llm = stack(Fallback(claude), Retry(attempts=2), provider=gpt)
    with start(llm, api_keys=[KEY]) as running:
        yield running
    llm.close()


def _client(server: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key=KEY, max_retries=0, timeout=10)


def test_stream_limits_ride_in_the_body_and_are_never_forwarded(
        server: Any, emulators: tuple[Emulator, Emulator]) -> None:
    primary, alternate = emulators
    primary.script(Fault.slow_first_token(3))
    with _client(server) as client:
        events = client.chat.completions.create(
            model="default", messages=[{"role": "user", "content": PROMPT}], stream=True,
            extra_body={"first_token_timeout": 0.3, "stall_timeout": 5})
        with events:
            models = {chunk.model for chunk in events}
    assert models == {"claude-sonnet-4-5"}  # the primary's first token never came in time
    for sent in (*primary.requests, *alternate.requests):
        assert "first_token_timeout" not in str(sent.body)
    reply = anthropic.Anthropic(base_url=server.base_url, api_key=KEY, max_retries=0)
    message = reply.messages.create(model="default", max_tokens=50,
                                    messages=[{"role": "user", "content": "hi"}],
                                    extra_body={"first_token_timeout": 2})
    assert message.content[0].text == "Echo: hi"  # type: ignore[union-attr]


def test_a_stream_continued_on_the_alternate_names_each_models_part(
        server: Any, emulators: tuple[Emulator, Emulator]) -> None:
    primary, alternate = emulators
    primary.script(Fault.truncate(3).times(2))  # the primary and its one retry are cut
    with _client(server) as client:
        events = client.chat.completions.create(
            model="default", messages=[{"role": "user", "content": PROMPT}], stream=True,
            stream_options={"include_usage": True})
        parts: list[tuple[str, str]] = []
        usage: Any = None
        with events:
            for chunk in events:
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append((chunk.model, chunk.choices[0].delta.content))
                if chunk.usage is not None:
                    usage, last = chunk.usage, chunk.model
    assert "".join(text for _, text in parts) == "Echo: " + PROMPT
    models = [model for model, _ in parts]
    assert models[0] == "gpt-4o-mini" and models[-1] == "claude-sonnet-4-5"
    assert last == "claude-sonnet-4-5" and usage.completion_tokens > 0
    assert alternate.requests[0].body["messages"][-1]["role"] == "assistant"  # a prefill


def test_a_stream_that_cannot_be_completed_ends_with_an_error_event() -> None:
    cut = StreamStep("Echo: a b c", ProviderUnavailable("cut", provider="primary"), 2)
    llm = stack(Fallback(ScriptedProvider([StreamStep("different")], name="other")),
                provider=ScriptedProvider([cut], name="primary"))
    with start(llm, api_keys=[KEY]) as running, _client(running) as client:
        events = client.chat.completions.create(
            model="default", messages=[{"role": "user", "content": "a b c"}], stream=True)
        got: list[str] = []
        with pytest.raises(openai.APIError) as caught, events:
            for chunk in events:
                got.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    assert "".join(got) == "Echo: a "
    assert "interrupted" in str(caught.value)
