"""The emulator speaks the 2026 request surface on every wire, as a strict server: content
parts checked and described, JSON Schemas honoured, reasoning with signed thinking, a
prompt cache, parallel tool calls, usage with every field — and malformed requests refused
with a 400 naming the problem. Raw HTTP (httpx), so the emulator is judged on its own."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge.testing.emulator import Emulator
from insightforge.testing.emulator.replies import sign
from insightforge.testing.emulator.schema_instance import instance, strict_problem
from insightforge.testing.strategies import PDF, PNG, WAV

B64 = base64.b64encode(PNG).decode()
SEEN = f"<image/png {len(PNG)} bytes sha256:{hashlib.sha256(PNG).hexdigest()[:12]}>"
HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "k"}
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}, "s": {"type": "string"}},
          "required": ["n", "s"], "additionalProperties": False}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as plain:
        yield plain


def openai(http: httpx.Client, emu: Emulator, **body: Any) -> httpx.Response:
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **body}
    return http.post(emu.openai_url + "/chat/completions", json=payload)


def anthropic(http: httpx.Client, emu: Emulator, **body: Any) -> httpx.Response:
    payload = {"model": "claude-sonnet-4-5", "max_tokens": 2000,
               "messages": [{"role": "user", "content": "hi"}], **body}
    return http.post(emu.anthropic_url + "/v1/messages", json=payload, headers=HEADERS)


def ollama(http: httpx.Client, emu: Emulator, **body: Any) -> httpx.Response:
    payload = {"model": "llama3.1", "stream": False,
               "messages": [{"role": "user", "content": "hi"}], **body}
    return http.post(emu.ollama_url + "/api/chat", json=payload)


def user(content: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


def test_every_wire_describes_the_same_image_the_same_way(emu: Emulator,
                                                          http: httpx.Client) -> None:
    a = openai(http, emu, messages=user([{"type": "text", "text": "what?"}, {
        "type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64}"}}])).json()
    b = anthropic(http, emu, messages=user([{"type": "text", "text": "what?"}, {
        "type": "image", "source": {"type": "base64", "media_type": "image/png",
                                    "data": B64}}])).json()
    c = ollama(http, emu, messages=[{"role": "user", "content": "what?",
                                     "images": [B64]}]).json()
    want = f"Echo: what?\n{SEEN}"
    assert a["choices"][0]["message"]["content"] == b["content"][0]["text"] == \
        c["message"]["content"] == want


@pytest.mark.parametrize(("content", "says"), [
    ([{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                   "data": "%%%"}}], "invalid base64"),
    ([{"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                   "data": B64}}], "does not match the provided media type"),
    ([{"type": "image", "source": {"type": "base64", "media_type": "image/tiff",
                                   "data": B64}}], "media type must be one of"),
    ([{"type": "image"}], "source: Field required"),
    ([{"type": "image", "source": {"type": "url", "url": "ftp://x"}}], "http(s) URL"),
    ([{"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                      "data": B64}}], "could not process"),
    ([{"type": "text", "text": ""}], "must be non-empty"),
    ([{"type": "text", "text": "x", "cache_control": {"type": "forever"}}], "ephemeral"),
    ([{"type": "input_audio"}], "unexpected block type"),
])
def test_anthropic_refuses_malformed_blocks(emu: Emulator, http: httpx.Client, content: Any,
                                            says: str) -> None:
    answer = anthropic(http, emu, messages=user(content))
    assert answer.status_code == 400 and says in answer.json()["error"]["message"]


@pytest.mark.parametrize(("body", "says"), [
    ({"thinking": {"type": "enabled", "budget_tokens": 500}}, ">= 1024"),
    ({"thinking": {"type": "enabled", "budget_tokens": 4000}, "max_tokens": 3000},
     "less than max_tokens"),
    ({"thinking": {"type": "adaptive"}}, "'adaptive' is not supported"),
    ({"model": "claude-opus-4-7", "thinking": {"type": "enabled", "budget_tokens": 1024}},
     "'enabled' is not supported"),
    ({"thinking": {"type": "enabled", "budget_tokens": 1024}, "temperature": 0.2},
     "temperature may only be set to 1"),
    ({"thinking": {"type": "enabled", "budget_tokens": 1024},
      "tools": [{"name": "t", "input_schema": {}}], "tool_choice": {"type": "any"}},
     "forces tool use"),
    ({"model": "claude-3-5-haiku-latest", "output_config": {"format": {
        "type": "json_schema", "schema": SCHEMA}}}, "not supported for claude-3-5-haiku"),
    ({"system": [{"type": "text", "text": str(i), "cache_control": {"type": "ephemeral"}}
                 for i in range(5)]}, "maximum of 4 blocks"),
    ({"system": [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
                 {"type": "text", "text": "b", "cache_control": {"type": "ephemeral",
                                                                 "ttl": "1h"}}]},
     "must not come after"),
])
def test_anthropic_refuses_bad_thinking_formats_and_marks(emu: Emulator, http: httpx.Client,
                                                          body: Any, says: str) -> None:
    answer = anthropic(http, emu, **body)
    assert answer.status_code == 400 and says in answer.json()["error"]["message"]


def test_anthropic_thinking_must_come_back_signed(emu: Emulator, http: httpx.Client) -> None:
    tools = [{"name": "get", "input_schema": {"type": "object"}}]
    thinking = {"type": "enabled", "budget_tokens": 1024}
    first = anthropic(http, emu, tools=tools, thinking=thinking).json()
    block, call = first["content"]
    assert block["type"] == "thinking" and block["signature"] == sign(block["thinking"])
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"],
                                           "content": "42"}]}

    def again(assistant: list[Any]) -> httpx.Response:
        history = [*user("hi"), {"role": "assistant", "content": assistant}, result]
        return anthropic(http, emu, tools=tools, thinking=thinking, messages=history)

    assert again([block, call]).json()["content"][-1]["text"] == "Echo: 42"
    forged = again([{**block, "signature": "sig_forged"}, call])
    assert forged.status_code == 400 and "Invalid `signature`" in forged.text
    missing = again([call])
    assert missing.status_code == 400 and "must start with a thinking block" in missing.text


def test_anthropic_cache_writes_then_reads_with_the_ttl_split(emu: Emulator,
                                                              http: httpx.Client) -> None:
    emu.reset()
    system = [{"type": "text", "text": "one two three", "cache_control": {"type": "ephemeral",
                                                                          "ttl": "1h"}},
              {"type": "text", "text": "four", "cache_control": {"type": "ephemeral"}}]
    first = anthropic(http, emu, system=system).json()["usage"]
    assert (first["cache_creation_input_tokens"], first["cache_read_input_tokens"]) == (7, 0)
    assert first["cache_creation"] == {"ephemeral_5m_input_tokens": 0,
                                       "ephemeral_1h_input_tokens": 7}
    assert first["input_tokens"] == 4  # "hi" + 3: the uncached rest
    second = anthropic(http, emu, system=system).json()["usage"]
    assert (second["cache_creation_input_tokens"], second["cache_read_input_tokens"]) == (0, 7)


@pytest.mark.parametrize(("body", "says"), [
    ({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {
        "url": f"data:image/png;base64,{B64}"}}]}, *user("x")]}, "role 'user'"),
    ({"messages": user([{"type": "image_url", "image_url": {"url": "data:image/png,xx"}}])},
     "base64 data URL"),
    ({"messages": user([{"type": "image", "source": {}}])}, "supported values are"),
    ({"messages": user([{"type": "input_audio", "input_audio": {"data": B64,
                                                                "format": "wav"}}])},
     "could not process"),
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "strict": True, "schema": {"type": "object", "properties": {}}}}},
     "'additionalProperties' is required"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "a b",
                                                                 "schema": SCHEMA}}}, "name"),
    ({"reasoning_effort": "low"}, "'reasoning_effort' is not supported"),
    ({"model": "o4-mini", "max_tokens": 5}, "Use 'max_completion_tokens'"),
    ({"model": "o4-mini", "temperature": 0.2}, "Only the default (1)"),
    ({"parallel_tool_calls": False}, "only allowed when 'tools'"),
    ({"prompt_cache_retention": "forever"}, "prompt_cache_retention"),
])
def test_openai_refuses_what_openai_refuses(emu: Emulator, http: httpx.Client, body: Any,
                                            says: str) -> None:
    answer = openai(http, emu, **body)
    assert answer.status_code == 400 and says in answer.json()["error"]["message"]


def test_openai_audio_files_schema_reasoning_and_parallel_calls(emu: Emulator,
                                                               http: httpx.Client) -> None:
    wav, pdf = base64.b64encode(WAV).decode(), base64.b64encode(PDF).decode()
    parts = [{"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}},
             {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{pdf}",
                                       "filename": "r.pdf"}}]
    text = openai(http, emu, messages=user(parts)).json()["choices"][0]["message"]["content"]
    assert text.startswith("Echo: <audio/wav ") and "\n<application/pdf " in text
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "strict": True,
                                                  "schema": SCHEMA}}
    answer = openai(http, emu, response_format=fmt).json()["choices"][0]["message"]["content"]
    assert json.loads(answer) == {"n": 1, "s": "hi"}
    thought = openai(http, emu, model="o4-mini", reasoning_effort="high").json()["usage"]
    assert thought["completion_tokens_details"]["reasoning_tokens"] == 3  # "Thinking about: hi"
    tools = [{"type": "function", "function": {"name": n, "parameters": {}}} for n in "ab"]
    both = openai(http, emu, tools=tools).json()["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in both] == ["a", "b"]
    assert len({c["id"] for c in both}) == 2
    one = openai(http, emu, tools=tools, parallel_tool_calls=False).json()
    assert len(one["choices"][0]["message"]["tool_calls"]) == 1


def test_openai_reads_a_keyed_prefix_from_the_cache(emu: Emulator, http: httpx.Client) -> None:
    emu.reset()
    history = [{"role": "system", "content": "be brief"}, *user("hi")]
    first = openai(http, emu, messages=history, prompt_cache_key="k1").json()["usage"]
    second = openai(http, emu, messages=history, prompt_cache_key="k1").json()["usage"]
    other = openai(http, emu, messages=history, prompt_cache_key="k2").json()["usage"]
    assert first["prompt_tokens_details"]["cached_tokens"] == 0
    assert second["prompt_tokens_details"]["cached_tokens"] == 5  # "be brief" + 3
    assert other["prompt_tokens_details"]["cached_tokens"] == 0
    assert openai(http, emu, messages=history).json()["usage"]["prompt_tokens_details"][
        "cached_tokens"] == 0  # short prompts without a key are not cached


def test_ollama_thinking_images_and_formats(emu: Emulator, http: httpx.Client) -> None:
    refused = ollama(http, emu, think=True)
    assert refused.status_code == 400 and "does not support thinking" in refused.text
    thought = ollama(http, emu, model="qwen3", think=True).json()["message"]
    assert thought == {"role": "assistant", "content": "Echo: hi",
                       "thinking": "Thinking about: hi"}
    assert ollama(http, emu, model="qwen3", think="high").status_code == 400  # gpt-oss only
    bad = ollama(http, emu, messages=[{"role": "user", "content": "x", "images": ["AAAA"]}])
    assert bad.status_code == 400 and "could not process" in bad.text
    schema = json.loads(ollama(http, emu, format=SCHEMA).json()["message"]["content"])
    assert schema == {"n": 1, "s": "hi"}
    assert ollama(http, emu, format="yaml").status_code == 400


_leaf = st.sampled_from([{"type": "string"}, {"type": "integer"}, {"type": "boolean"},
                         {"type": "number"}, {"enum": ["a", "b"]}, {"type": ["string", "null"]},
                         {"type": "array", "items": {"type": "string"}, "minItems": 2}])
_schemas = st.recursive(_leaf, lambda inner: st.dictionaries(
    st.from_regex(r"[a-z]{1,6}", fullmatch=True), inner, min_size=1, max_size=3).map(
    lambda props: {"type": "object", "properties": props, "required": sorted(props),
                   "additionalProperties": False}), max_leaves=6)
_TYPES = {"string": str, "integer": int, "boolean": bool, "number": float}


def _conforms(schema: dict[str, Any], value: Any) -> bool:
    if "enum" in schema:
        return value in schema["enum"]
    kind = schema["type"] if isinstance(schema["type"], str) else schema["type"][0]
    if kind == "object":
        return isinstance(value, dict) and set(value) == set(schema["properties"]) and all(
            _conforms(schema["properties"][k], v) for k, v in value.items())
    if kind == "array":
        return len(value) >= schema.get("minItems", 0) and all(
            _conforms(schema["items"], v) for v in value)
    return type(value) is _TYPES[kind]


@given(_schemas, st.text(max_size=20))
def test_the_emulated_model_answers_a_conforming_object(schema: Any, text: str) -> None:
    assert _conforms(schema, instance(schema, text))
    assert instance(schema, text) == instance(schema, text)
    if schema.get("type") == "object":
        assert strict_problem(schema) is None
