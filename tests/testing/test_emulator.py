"""The emulator over real sockets: the OpenAI wire through the real SDK, faults, keys, the log.

Other wire formats: test_emulator_wires.py; the pure reply rules: test_emulator_replies.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

import insightforge.testing.emulator as emulator_pkg
from insightforge.testing.emulator import Emulator, Fault, RecordedRequest
from insightforge.testing.emulator.cli import banner

ROOT = Path(__file__).resolve().parents[2]
MESSAGES: Any = [{"role": "user", "content": "one two three four"}]
TOOLS: Any = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def client(emu: Emulator) -> Iterator[openai.OpenAI]:
    sdk = openai.OpenAI(base_url=emu.openai_url, api_key="k", max_retries=0, timeout=5)
    yield sdk
    sdk.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as plain:
        yield plain


def chat(client: openai.OpenAI, **extra: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **extra)


def sse_data(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


# -- the public surface -----------------------------------------------------------------


def test_public_names_are_pinned() -> None:
    assert emulator_pkg.__all__ == ["Emulator", "Fault", "RecordedRequest", "refusal",
                                    "stream_refusal"]


def test_urls_point_at_one_loopback_port(emu: Emulator) -> None:
    assert emu.url == f"http://127.0.0.1:{emu.port}"
    assert emu.openai_url == emu.url + "/v1"
    assert emu.hf_url == emu.url + "/hf"
    assert emu.azure_url == emu.anthropic_url == emu.ollama_url == emu.url


def test_start_stop_without_context_manager() -> None:
    emu = Emulator().start()
    try:
        assert httpx.get(emu.url + "/api/tags", timeout=5).status_code == 200
    finally:
        emu.stop()
    emu.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.url


# -- the OpenAI wire through the real SDK ----------------------------------------------


def test_chat_echoes_the_last_user_message_with_usage(client: openai.OpenAI) -> None:
    reply = chat(client)
    assert reply.id == "chatcmpl-emu-1"
    assert reply.model == "gpt-4o-mini"
    assert reply.choices[0].message.content == "Echo: one two three four"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (4 + 3, 5)
    assert reply.usage.total_tokens == 12


def test_stream_assembles_to_the_non_stream_text(client: openai.OpenAI) -> None:
    whole = chat(client)
    chunks = list(chat(client, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage == whole.usage
    assert all(c.object == "chat.completion.chunk" for c in chunks)


def test_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(chat(client, stream=True))
    assert all(c.choices and c.usage is None for c in chunks)


def test_tool_call_non_stream_and_stream_agree(client: openai.OpenAI) -> None:
    reply = chat(client, tools=TOOLS)
    call = reply.choices[0].message.tool_calls[0]
    assert reply.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"input": "one two three four"}
    chunks = list(chat(client, tools=TOOLS, stream=True))
    deltas = [c.choices[0].delta.tool_calls for c in chunks if c.choices[0].delta.tool_calls]
    assert deltas[0][0].id and deltas[0][0].function.name == "lookup"
    arguments = "".join(d[0].function.arguments or "" for d in deltas)
    assert arguments == call.function.arguments
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tool_choice_none_and_tool_results(client: openai.OpenAI) -> None:
    assert chat(client, tools=TOOLS, tool_choice="none").choices[0].finish_reason == "stop"
    history: Any = [
        *MESSAGES,
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    reply = client.chat.completions.create(model="m", messages=history, tools=TOOLS)
    assert reply.choices[0].message.content == "Echo: sunny"


def test_json_mode_max_tokens_and_stop(client: openai.OpenAI) -> None:
    json_reply = chat(client, response_format={"type": "json_object"})
    assert json.loads(json_reply.choices[0].message.content) == {"echo": "one two three four"}
    short = chat(client, max_tokens=2)
    assert (short.choices[0].message.content, short.choices[0].finish_reason) == (
        "Echo: one", "length")
    assert chat(client, max_completion_tokens=3).choices[0].message.content == "Echo: one two"
    stopped = chat(client, stop=["three"])
    assert stopped.choices[0].message.content == "Echo: one two "
    assert stopped.choices[0].finish_reason == "stop"


def test_embeddings_are_deterministic_and_normalised(
    emu: Emulator, client: openai.OpenAI, http: httpx.Client
) -> None:
    first = client.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])
    again = client.embeddings.create(model="text-embedding-3-small", input="a b")
    assert len(first.data) == 2 and first.usage.prompt_tokens == 3
    assert first.data[0].embedding == again.data[0].embedding
    assert len(first.data[0].embedding) == 8
    assert abs(sum(v * v for v in first.data[1].embedding) - 1.0) < 1e-6  # float32 on the wire
    assert emu.requests[0].body.get("encoding_format") == "base64"  # the SDK's default
    wide = client.embeddings.create(model="m", input="x", dimensions=32)
    assert len(wide.data[0].embedding) == 32
    floats = http.post(emu.openai_url + "/embeddings", json={"model": "m", "input": "c"}).json()
    vector = floats["data"][0]["embedding"]
    assert abs(sum(v * v for v in vector) - 1.0) < 1e-9
    assert vector == pytest.approx(first.data[1].embedding, abs=1e-6)


def test_models_list(client: openai.OpenAI) -> None:
    assert "gpt-4o-mini" in [model.id for model in client.models.list()]


# -- faults -----------------------------------------------------------------------------


def test_status_faults_in_order_then_normal(emu: Emulator, client: openai.OpenAI) -> None:
    emu.script(Fault.status(429, retry_after=1), Fault.status(503), api="openai")
    with pytest.raises(openai.RateLimitError) as limited:
        chat(client)
    assert limited.value.response.headers["retry-after"] == "1"
    error = limited.value.response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == ("rate_limit_exceeded", "rate_limit_exceeded")
    with pytest.raises(openai.InternalServerError) as failed:
        chat(client)
    assert failed.value.status_code == 503
    assert chat(client).choices[0].message.content == "Echo: one two three four"
    assert [r.fault for r in emu.requests] == ["status", "status", None]


def test_status_fault_options(emu: Emulator, http: httpx.Client) -> None:
    emu.script(
        Fault.status(429, retry_after_ms=250),
        Fault.status(400, message="maximum context length exceeded"),
        Fault.status(502, body={"custom": True}),
    )
    url, body = emu.openai_url + "/chat/completions", {"model": "m", "messages": MESSAGES}
    first = http.post(url, json=body)
    assert first.headers["retry-after-ms"] == "250" and "retry-after" not in first.headers
    assert http.post(url, json=body).json()["error"]["code"] == "context_length_exceeded"
    third = http.post(url, json=body)
    assert (third.status_code, third.json()) == (502, {"custom": True})


def test_delay_answers_late_but_normally(emu: Emulator, client: openai.OpenAI) -> None:
    emu.script(Fault.delay(0.3))
    started = time.monotonic()
    assert chat(client).choices[0].finish_reason == "stop"
    assert time.monotonic() - started >= 0.3


def test_stall_times_the_client_out_and_stop_is_prompt() -> None:
    emu = Emulator().start()
    emu.script(Fault.stall(), Fault.stall())
    impatient = openai.OpenAI(base_url=emu.openai_url, api_key="k", max_retries=0, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        chat(impatient)
    errors: list[BaseException] = []

    def wait_forever() -> None:
        try:
            httpx.post(emu.openai_url + "/chat/completions", timeout=30,
                       json={"model": "m", "messages": MESSAGES})
        except httpx.HTTPError as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait_forever)
    waiter.start()
    while emu.count() < 2:
        time.sleep(0.01)
    started = time.monotonic()
    emu.stop()
    assert time.monotonic() - started < 2.0
    waiter.join(2.0)
    assert not waiter.is_alive() and isinstance(errors[0], httpx.RemoteProtocolError)


def test_drop_closes_without_a_response(emu: Emulator, client: openai.OpenAI,
                                        http: httpx.Client) -> None:
    emu.script(Fault.drop(), Fault.drop())
    with pytest.raises(openai.APIConnectionError):
        chat(client)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(emu.openai_url + "/models")
    assert [r.fault for r in emu.requests] == ["drop", "drop"]


def test_truncate_stream_cuts_after_n_chunks(emu: Emulator, http: httpx.Client) -> None:
    emu.script(Fault.truncate(after_chunks=2))
    lines: list[str] = []
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    with pytest.raises(httpx.RemoteProtocolError), \
            http.stream("POST", emu.openai_url + "/chat/completions", json=body) as response:
        lines.extend(line for line in response.iter_lines() if line)
    contents = [json.loads(line[6:])["choices"][0]["delta"].get("content") for line in lines]
    assert contents == ["", "Echo: ", "one "]  # role chunk + 2 content chunks, no [DONE]


def test_truncate_body_is_short_of_content_length(emu: Emulator, http: httpx.Client) -> None:
    emu.script(Fault.truncate())
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(emu.openai_url + "/models")


def test_malformed_body_and_stream(emu: Emulator, http: httpx.Client) -> None:
    emu.script(Fault.malformed(), Fault.malformed())
    url, body = emu.openai_url + "/chat/completions", {"model": "m", "messages": MESSAGES}
    plain = http.post(url, json=body)
    assert plain.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        plain.json()
    data = sse_data(http.post(url, json={**body, "stream": True}).text)
    with pytest.raises(json.JSONDecodeError):
        [json.loads(item) for item in data if item != "[DONE]"]


def test_wrong_shape_body_and_stream(emu: Emulator, http: httpx.Client) -> None:
    emu.script(Fault.wrong_shape(), Fault.wrong_shape())
    url, body = emu.openai_url + "/chat/completions", {"model": "m", "messages": MESSAGES}
    assert http.post(url, json=body).json() == {"unexpected": True}
    data = sse_data(http.post(url, json={**body, "stream": True}).text)
    assert data == ['{"unexpected":true}', "[DONE]"]


def test_stream_error_after_chunks(emu: Emulator, client: openai.OpenAI) -> None:
    emu.script(Fault.stream_error(after_chunks=2), Fault.stream_error())
    seen: list[str] = []
    with pytest.raises(openai.APIError, match="Overloaded"):
        for chunk in chat(client, stream=True):
            seen.append(chunk.choices[0].delta.content or "")
    assert seen == ["", "Echo: ", "one "]
    with pytest.raises(openai.InternalServerError):  # non-stream: an overloaded status
        chat(client)


def test_content_filter(emu: Emulator, client: openai.OpenAI) -> None:
    emu.script(Fault.content_filter(), Fault.content_filter())
    assert chat(client).choices[0].finish_reason == "content_filter"
    chunks = list(chat(client, stream=True))
    assert chunks[-1].choices[0].finish_reason == "content_filter"


def test_api_and_path_filters(emu: Emulator, client: openai.OpenAI) -> None:
    emu.script(Fault.status(500), api="anthropic")
    emu.script(Fault.status(500, path="/embeddings"))
    assert chat(client).choices[0].message.content  # neither fault matches a chat call
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="m", input="x")
    assert emu.pending_faults() == 1
    assert emu.requests[0].fault is None and emu.requests[1].fault == "status"


def test_times_repeats_a_fault(emu: Emulator, client: openai.OpenAI) -> None:
    emu.script(Fault.status(503), times=3)
    emu.script(Fault.status(429).times(2))
    statuses = []
    for _ in range(6):
        try:
            chat(client)
            statuses.append(200)
        except openai.APIStatusError as exc:
            statuses.append(exc.status_code)
    assert statuses == [503, 503, 503, 429, 429, 200]


def test_fault_arguments_are_validated() -> None:
    with pytest.raises(ValueError):
        Fault.status(200)
    with pytest.raises(ValueError):
        Fault.drop(api="nope")
    with pytest.raises(ValueError):
        Fault.drop().times(0)


def test_reset_clears_log_and_queue(emu: Emulator, client: openai.OpenAI) -> None:
    emu.script(Fault.status(500), times=5)
    with pytest.raises(openai.InternalServerError):
        chat(client)
    emu.reset()
    assert emu.requests == [] and emu.pending_faults() == 0
    assert chat(client).id == "chatcmpl-emu-1"


# -- keys, the log, protocol details -----------------------------------------------------


def test_api_keys_are_checked_and_never_echoed(http: httpx.Client) -> None:
    with Emulator(api_keys={"good"}) as emu:
        bad = openai.OpenAI(base_url=emu.openai_url, api_key="sk-secret-bad", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as refused:
            chat(bad)
        assert "sk-secret-bad" not in refused.value.response.text
        good = openai.OpenAI(base_url=emu.openai_url, api_key="good", max_retries=0)
        assert chat(good).choices[0].finish_reason == "stop"
        no_key = http.get(emu.openai_url + "/models")
        assert no_key.status_code == 401
        assert emu.requests[0].fault is None


def test_rejected_requests_do_not_consume_faults(emu: Emulator, http: httpx.Client) -> None:
    emu.script(Fault.status(500))
    assert http.post(emu.openai_url + "/chat/completions", content=b"{nope").status_code == 400
    missing = http.get(emu.url + "/v1/nowhere")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_url"
    assert emu.pending_faults() == 1


def test_request_log_records_what_arrived(emu: Emulator, client: openai.OpenAI) -> None:
    before = time.monotonic()
    chat(client, temperature=0)
    client.embeddings.create(model="m", input="x")
    first, second = emu.requests
    assert isinstance(first, RecordedRequest)
    assert (first.api, first.method, first.path, first.fault) == (
        "openai", "POST", "/v1/chat/completions", None)
    assert first.headers["authorization"] == "Bearer k"
    assert first.body["temperature"] == 0
    assert before <= first.at <= second.at
    assert emu.count() == 2 and emu.count(api="openai", path="/embeddings") == 1
    assert emu.count(api="anthropic") == 0


def test_connections_are_kept_alive(emu: Emulator) -> None:
    request = (b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as raw:
        for _ in range(2):
            raw.sendall(request)
            head = raw.recv(65536)
            assert head.startswith(b"HTTP/1.1 200 OK")


def test_cli_prints_urls_and_stops_on_ctrl_c(emu: Emulator) -> None:
    assert emu.openai_url in banner(emu) and emu.hf_url in banner(emu)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "insightforge.testing.emulator", "--port", "0"],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.rsplit(" ", 1)[-1].strip()
        assert httpx.get(url + "/api/tags", timeout=5).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()


def test_bad_request_heads_get_a_400_and_a_close(emu: Emulator) -> None:
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        answer = raw.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in answer


def test_http_1_0_closes_after_the_response(emu: Emulator) -> None:
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as raw:
        raw.sendall(b"GET /api/tags HTTP/1.0\r\n\r\n")
        answer = raw.makefile("rb").read()  # returns because the server closes
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"]}")


def test_concurrent_requests_consume_each_fault_once(emu: Emulator) -> None:
    emu.script(Fault.status(500), times=20)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=5) as plain:
            for _ in range(10):
                code = plain.post(emu.openai_url + "/chat/completions",
                                  json={"model": "m", "messages": MESSAGES}).status_code
                with lock:
                    statuses.append(code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(statuses) == [200] * 60 + [500] * 20
    assert emu.count() == 80 and emu.pending_faults() == 0
