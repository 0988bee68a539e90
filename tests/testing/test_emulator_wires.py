"""The emulator's Azure, Anthropic, Ollama and Hugging Face wire formats, over real sockets.

Azure goes through the real `openai.AzureOpenAI` client; the others through plain httpx.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from insightforge.testing.emulator import Emulator, Fault

MESSAGES: Any = [{"role": "user", "content": "one two three four"}]
ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "k"}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as plain:
        yield plain


def events(text: str) -> list[tuple[str, Any]]:
    """(event name, parsed data) for each SSE event of an Anthropic stream."""
    found = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        found.append((lines["event"], json.loads(lines["data"])))
    return found


def ndjson(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines() if line]


# -- Azure OpenAI -------------------------------------------------------------------------


def azure(emu: Emulator) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(azure_endpoint=emu.azure_url, api_key="k", max_retries=0,
                              api_version="2024-10-21", timeout=5)


def test_azure_chat_uses_the_deployment_as_model(emu: Emulator) -> None:
    reply = azure(emu).chat.completions.create(model="my-gpt", messages=MESSAGES)
    assert reply.model == "my-gpt"
    assert reply.choices[0].message.content == "Echo: one two three four"
    request = emu.requests[0]
    assert request.api == "azure" and request.query["api-version"] == "2024-10-21"
    assert request.path == "/openai/deployments/my-gpt/chat/completions"


def test_azure_embeddings_stream_and_content_filter(emu: Emulator) -> None:
    client = azure(emu)
    vectors = client.embeddings.create(model="emb", input=["a", "b"])
    assert len(vectors.data) == 2
    emu.script(Fault.content_filter(), api="azure")
    chunks = list(client.chat.completions.create(model="d", messages=MESSAGES, stream=True))
    assert chunks[-1].choices[0].finish_reason == "content_filter"


def test_azure_requires_api_version_and_accepts_api_key_header(http: httpx.Client) -> None:
    with Emulator(api_keys={"az"}) as emu:
        url = emu.url + "/openai/deployments/d/chat/completions"
        body = {"messages": MESSAGES}
        missing = http.post(url, json=body, headers={"api-key": "az"})
        assert missing.status_code == 400 and "api-version" in missing.json()["error"]["message"]
        ok = http.post(url, params={"api-version": "v"}, json=body, headers={"api-key": "az"})
        assert ok.status_code == 200
        refused = http.post(url, params={"api-version": "v"}, json=body, headers={"api-key": "x"})
        assert refused.status_code == 401
        models = http.get(emu.url + "/openai/models", params={"api-version": "v"},
                          headers={"api-key": "az"})
        assert models.json()["object"] == "list"


# -- Anthropic --------------------------------------------------------------------------


def anthropic(http: httpx.Client, emu: Emulator, **body: Any) -> httpx.Response:
    payload = {"model": "claude-x", "max_tokens": 100, "messages": MESSAGES, **body}
    return http.post(emu.anthropic_url + "/v1/messages", json=payload, headers=ANTHROPIC_HEADERS)


def test_anthropic_message_and_usage(emu: Emulator, http: httpx.Client) -> None:
    message = anthropic(http, emu, system="be brief").json()
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["content"] == [{"type": "text", "text": "Echo: one two three four"}]
    assert (message["stop_reason"], message["stop_sequence"]) == ("end_turn", None)
    assert message["usage"] == {
        "input_tokens": 2 + 3 + 4 + 3, "output_tokens": 5, "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0, "service_tier": "standard",
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}}
    assert message["model"] == "claude-x"


def test_anthropic_stream_event_sequence(emu: Emulator, http: httpx.Client) -> None:
    whole = anthropic(http, emu).json()
    streamed = events(anthropic(http, emu, stream=True).text)
    names = [name for name, _ in streamed]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(d["delta"]["text"] for n, d in streamed if n == "content_block_delta")
    assert text == whole["content"][0]["text"]
    assert streamed[0][1]["message"]["usage"]["input_tokens"] == whole["usage"]["input_tokens"]
    delta = streamed[-2][1]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] == whole["usage"]["output_tokens"]


def test_anthropic_tool_use_streamed_as_input_json_delta(emu: Emulator, http: httpx.Client) -> None:
    tools = [{"name": "lookup", "input_schema": {"type": "object"}}]
    whole = anthropic(http, emu, tools=tools).json()
    assert whole["stop_reason"] == "tool_use"
    block = whole["content"][0]
    assert (block["type"], block["name"], block["input"]) == (
        "tool_use", "lookup", {"input": "one two three four"})
    streamed = events(anthropic(http, emu, tools=tools, stream=True).text)
    start = streamed[1][1]["content_block"]
    assert (start["type"], start["name"], start["input"]) == ("tool_use", "lookup", {})
    partial = "".join(d["delta"]["partial_json"] for n, d in streamed
                      if n == "content_block_delta")
    assert json.loads(partial) == block["input"]


def test_anthropic_tool_result_limits_and_stops(emu: Emulator, http: httpx.Client) -> None:
    history = [*MESSAGES,
               {"role": "assistant", "content": [
                   {"type": "tool_use", "id": "t1", "name": "lookup", "input": {}}]},
               {"role": "user", "content": [
                   {"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]}]
    tools = [{"name": "lookup", "input_schema": {}}]
    assert anthropic(http, emu, messages=history, tools=tools).json()["content"][0]["text"] == (
        "Echo: sunny")
    short = anthropic(http, emu, max_tokens=2).json()
    assert (short["content"][0]["text"], short["stop_reason"]) == ("Echo: one", "max_tokens")
    stopped = anthropic(http, emu, stop_sequences=["three"]).json()
    assert (stopped["stop_reason"], stopped["stop_sequence"]) == ("stop_sequence", "three")


def test_anthropic_validation(emu: Emulator, http: httpx.Client) -> None:
    no_max = http.post(emu.url + "/v1/messages", headers=ANTHROPIC_HEADERS,
                       json={"model": "c", "messages": MESSAGES})
    assert no_max.status_code == 400
    assert no_max.json()["error"]["type"] == "invalid_request_error"
    no_version = http.post(emu.url + "/v1/messages", headers={"x-api-key": "k"},
                           json={"model": "c", "max_tokens": 5, "messages": MESSAGES})
    assert no_version.status_code == 400


def test_anthropic_models_and_auth(http: httpx.Client) -> None:
    with Emulator(api_keys={"ant"}) as emu:
        listed = http.get(emu.url + "/v1/models",
                          headers={"x-api-key": "ant", "anthropic-version": "2023-06-01"})
        assert listed.json()["has_more"] is False
        assert listed.json()["data"][0]["type"] == "model"
        refused = http.post(emu.url + "/v1/messages", headers={
            "x-api-key": "wrong-secret", "anthropic-version": "2023-06-01"}, json={})
        assert refused.status_code == 401
        assert refused.json()["error"]["type"] == "authentication_error"
        assert "wrong-secret" not in refused.text


def test_anthropic_faults(emu: Emulator, http: httpx.Client) -> None:
    emu.script(Fault.status(529), Fault.stream_error(after_chunks=1), Fault.content_filter(),
               api="anthropic")
    overloaded = anthropic(http, emu)
    assert overloaded.status_code == 529
    assert overloaded.json() == {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}}
    streamed = events(anthropic(http, emu, stream=True).text)
    assert [n for n, _ in streamed][-2:] == ["content_block_delta", "error"]
    assert streamed[-1][1] == {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}}
    assert anthropic(http, emu).json()["stop_reason"] == "refusal"


# -- Ollama -----------------------------------------------------------------------------


def ollama(http: httpx.Client, emu: Emulator, **body: Any) -> httpx.Response:
    payload = {"model": "llama3.1", "messages": MESSAGES, **body}
    return http.post(emu.ollama_url + "/api/chat", json=payload)


def test_ollama_streams_ndjson_by_default(emu: Emulator, http: httpx.Client) -> None:
    response = ollama(http, emu)
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = ndjson(response.text)
    assert all(not line["done"] for line in lines[:-1])
    assert "".join(line["message"]["content"] for line in lines) == "Echo: one two three four"
    final = lines[-1]
    assert (final["done"], final["done_reason"]) == (True, "stop")
    assert (final["prompt_eval_count"], final["eval_count"]) == (7, 5)


def test_ollama_non_stream_options_json_and_tools(emu: Emulator, http: httpx.Client) -> None:
    single = ollama(http, emu, stream=False, options={"num_predict": 2}).json()
    assert (single["message"]["content"], single["done_reason"]) == ("Echo: one", "length")
    as_json = ollama(http, emu, stream=False, format="json").json()
    assert json.loads(as_json["message"]["content"]) == {"echo": "one two three four"}
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    called = ollama(http, emu, stream=False, tools=tools).json()
    assert called["message"]["tool_calls"] == [
        {"function": {"name": "lookup", "arguments": {"input": "one two three four"}}}]


def test_ollama_embed_tags_and_missing_model(emu: Emulator, http: httpx.Client) -> None:
    embedded = http.post(emu.url + "/api/embed", json={"model": "m", "input": ["a", "b c"]})
    assert len(embedded.json()["embeddings"]) == 2
    assert embedded.json()["prompt_eval_count"] == 3
    assert http.get(emu.url + "/api/tags").json()["models"][0]["name"] == "llama3.1:latest"
    missing = ollama(http, emu, model="missing-model")
    assert missing.status_code == 404
    assert missing.json() == {"error": "model 'missing-model' not found, try pulling it first"}


def test_ollama_faults(emu: Emulator, http: httpx.Client) -> None:
    emu.script(Fault.stream_error(after_chunks=2), Fault.status(503), api="ollama")
    lines = ndjson(ollama(http, emu).text)
    assert len(lines) == 3 and "error" in lines[-1]
    assert all("done" not in line or not line["done"] for line in lines)
    failed = ollama(http, emu)
    assert failed.status_code == 503 and set(failed.json()) == {"error"}
    emu.script(Fault.truncate(after_chunks=1), api="ollama")
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError), \
            http.stream("POST", emu.url + "/api/chat",
                        json={"model": "m", "messages": MESSAGES}) as response:
        received.extend(response.iter_lines())
    assert [json.loads(line)["done"] for line in received if line] == [False]


# -- Hugging Face -----------------------------------------------------------------------


def test_hf_tgi_chat_and_stream_usage_in_last_chunk(emu: Emulator, http: httpx.Client) -> None:
    url = emu.hf_url + "/v1/chat/completions"
    whole = http.post(url, json={"model": "tgi", "messages": MESSAGES}).json()
    assert whole["choices"][0]["message"]["content"] == "Echo: one two three four"
    text = http.post(url, json={"model": "tgi", "messages": MESSAGES, "stream": True}).text
    data = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(item) for item in data[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == whole["usage"]


def test_hf_tei_embed_info_and_errors(http: httpx.Client) -> None:
    with Emulator(api_keys={"hf_token"}) as emu:
        auth = {"authorization": "Bearer hf_token"}
        vectors = http.post(emu.hf_url + "/embed", json={"inputs": ["a", "b"]}, headers=auth)
        assert len(vectors.json()) == 2 and len(vectors.json()[0]) == 8
        assert "model_id" in http.get(emu.hf_url + "/info", headers=auth).json()
        refused = http.get(emu.hf_url + "/info", headers={"authorization": "Bearer hf_nope"})
        assert refused.status_code == 401 and "hf_nope" not in refused.text
        emu.script(Fault.status(429, retry_after=2), api="hf")
        limited = http.post(emu.hf_url + "/embed", json={"inputs": "a"}, headers=auth)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
        assert set(limited.json()) == {"error", "error_type"}


# -- one reply, every vendor ------------------------------------------------------------


def test_every_wire_gives_the_same_text_and_tokens(emu: Emulator, http: httpx.Client) -> None:
    openai_body = http.post(emu.openai_url + "/chat/completions",
                            json={"model": "m", "messages": MESSAGES}).json()
    anthropic_body = anthropic(http, emu).json()
    ollama_body = ollama(http, emu, stream=False).json()
    hf_body = http.post(emu.hf_url + "/v1/chat/completions", json={"messages": MESSAGES}).json()
    texts = {openai_body["choices"][0]["message"]["content"],
             anthropic_body["content"][0]["text"], ollama_body["message"]["content"],
             hf_body["choices"][0]["message"]["content"]}
    assert texts == {"Echo: one two three four"}
    tokens = {(openai_body["usage"]["prompt_tokens"], openai_body["usage"]["completion_tokens"]),
              (anthropic_body["usage"]["input_tokens"], anthropic_body["usage"]["output_tokens"]),
              (ollama_body["prompt_eval_count"], ollama_body["eval_count"]),
              (hf_body["usage"]["prompt_tokens"], hf_body["usage"]["completion_tokens"])}
    assert tokens == {(7, 5)}
    assert [r.api for r in emu.requests] == ["openai", "anthropic", "ollama", "hf"]
