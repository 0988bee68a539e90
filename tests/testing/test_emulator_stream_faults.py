"""The emulator's faults for issue 13 over real sockets (plain httpx, so the bytes and the
timing are what the server did): a slow first token, a stall mid-stream, no ``[DONE]``, a
refused prefill, an outage that ends, context-length and content-policy refusals — and the
prefill continuation the Anthropic and Ollama wires answer."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from insightforge.testing.emulator import Emulator, Fault
from insightforge.testing.emulator.faults import PREFILL_REJECTED, FaultQueue

ASK: Any = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "a b c d"}],
            "stream": True}
PREFILLED: Any = {"model": "claude-sonnet-4-5", "max_tokens": 50,
                  "messages": [{"role": "user", "content": "a b c d"},
                               {"role": "assistant", "content": "Echo: a b"}]}
ANTHROPIC = {"anthropic-version": "2023-06-01", "x-api-key": "k"}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


def _lines_with_times(emu: Emulator, body: Any = ASK) -> list[tuple[float, str]]:
    """Each ``data:`` line and when it came, counted from the response's headers."""
    out = []
    with httpx.Client(timeout=10) as http, \
            http.stream("POST", emu.openai_url + "/chat/completions", json=body) as reply:
        started = time.monotonic()
        for line in reply.iter_lines():
            if line.startswith("data: "):
                out.append((time.monotonic() - started, line[6:]))
    return out


def _text(lines: list[tuple[float, str]]) -> str:
    pieces = []
    for _, data in lines:
        if data != "[DONE]":
            for choice in json.loads(data)["choices"]:
                pieces.append(choice["delta"].get("content") or "")
    return "".join(pieces)


def test_slow_first_token_sends_the_head_at_once_and_the_tokens_late(emu: Emulator) -> None:
    emu.script(Fault.slow_first_token(0.6))
    lines = _lines_with_times(emu)
    assert lines[0][0] < 0.3  # the role chunk: the stream has begun
    assert lines[1][0] >= 0.55  # the first token
    assert _text(lines) == "Echo: a b c d"


def test_slow_first_token_delays_a_plain_answer_whole(emu: Emulator) -> None:
    emu.script(Fault.slow_first_token(0.5))
    started = time.monotonic()
    reply = httpx.post(emu.openai_url + "/chat/completions", json={**ASK, "stream": False})
    assert time.monotonic() - started >= 0.5 and reply.status_code == 200


def test_a_stall_mid_stream_pauses_after_n_chunks_then_goes_on(emu: Emulator) -> None:
    emu.script(Fault.stall_stream(2, seconds=0.6))
    lines = _lines_with_times(emu)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(lines)]
    assert max(gaps) >= 0.55 and gaps.index(max(gaps)) == 2  # head, 2 chunks, then silence
    assert _text(lines) == "Echo: a b c d"


def test_no_done_sends_everything_but_the_marker_and_holds_on(emu: Emulator) -> None:
    emu.script(Fault.no_done())
    got: list[str] = []
    with httpx.Client(timeout=httpx.Timeout(5, read=0.5)) as http, pytest.raises(
            httpx.ReadTimeout), http.stream("POST", emu.openai_url + "/chat/completions",
                                            json={**ASK, "stream_options": {
                                                "include_usage": True}}) as reply:
        got.extend(line[6:] for line in reply.iter_lines() if line.startswith("data: "))
    assert "[DONE]" not in got and json.loads(got[-1])["usage"]["completion_tokens"] == 5


def test_a_prefill_is_continued_by_anthropic_and_ollama(emu: Emulator) -> None:
    reply = httpx.post(emu.anthropic_url + "/v1/messages", json=PREFILLED, headers=ANTHROPIC)
    assert reply.json()["content"][0]["text"] == " c d"
    assert reply.json()["usage"] == {**reply.json()["usage"], "output_tokens": 2}
    ollama = {"model": "llama3.1", "stream": False, "messages": PREFILLED["messages"]}
    assert httpx.post(emu.ollama_url + "/api/chat",
                      json=ollama).json()["message"]["content"] == " c d"
    openai_body = {**ASK, "stream": False, "messages": PREFILLED["messages"]}
    answer = httpx.post(emu.openai_url + "/chat/completions", json=openai_body).json()
    assert answer["choices"][0]["message"]["content"] == "Echo: a b c d"  # no prefill there


def test_anthropic_refuses_a_prefill_with_trailing_whitespace(emu: Emulator) -> None:
    body = {**PREFILLED, "messages": [PREFILLED["messages"][0],
                                      {"role": "assistant", "content": "Echo: a "}]}
    reply = httpx.post(emu.anthropic_url + "/v1/messages", json=body, headers=ANTHROPIC)
    assert reply.status_code == 400 and "trailing whitespace" in reply.text


def test_a_prefill_refusal_only_meets_a_request_ending_with_the_assistant(emu: Emulator
                                                                         ) -> None:
    emu.script(Fault.reject_prefill())
    plain = {**PREFILLED, "messages": PREFILLED["messages"][:1]}
    assert httpx.post(emu.anthropic_url + "/v1/messages", json=plain,
                      headers=ANTHROPIC).status_code == 200
    refused = httpx.post(emu.anthropic_url + "/v1/messages", json=PREFILLED, headers=ANTHROPIC)
    assert refused.status_code == 400
    assert refused.json()["error"] == {"type": "invalid_request_error",
                                       "message": PREFILL_REJECTED}
    assert emu.pending_faults() == 0


def test_down_answers_every_request_until_it_recovers(emu: Emulator) -> None:
    url, body = emu.openai_url + "/chat/completions", {**ASK, "stream": False}
    with httpx.Client(timeout=5) as http:
        http.post(url, json=body)  # the client's first use is not part of the outage
        emu.script(Fault.down(2.0), api="openai")
        ends = time.monotonic() + 2.0
        statuses = [http.post(url, json=body).status_code for _ in range(3)]
        assert statuses == [503, 503, 503] and emu.pending_faults() == 1
        time.sleep(max(0.0, ends - time.monotonic()))
        assert http.post(url, json=body).status_code == 200 and emu.pending_faults() == 0


def test_down_expires_on_its_own_clock_and_keeps_the_queue_order() -> None:
    queue = FaultQueue()
    queue.add(Fault.down(0.2))
    queue.add(Fault.status(500))
    assert queue.take("openai", "/v1/chat/completions").kind == "down"  # type: ignore[union-attr]
    time.sleep(0.25)
    assert queue.take("openai", "/v1/chat/completions").kind == "status"  # type: ignore[union-attr]
    assert queue.take("openai", "/v1/chat/completions") is None


def test_context_length_and_content_policy_refusals(emu: Emulator) -> None:
    url, body = emu.openai_url + "/chat/completions", {**ASK, "stream": False}
    emu.script(Fault.context_length(), Fault.content_policy())
    first, second = httpx.post(url, json=body), httpx.post(url, json=body)
    assert first.status_code == second.status_code == 400
    assert first.json()["error"]["code"] == "context_length_exceeded"
    assert second.json()["error"]["code"] == "content_policy_violation"
