"""Content parts on each vendor's wire, pure: the exact shapes sent, what each vendor
refuses (``Unsupported`` naming the part and the provider, before any network call), and
the property that every part maps or is refused — never dropped, never a crash."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge import (
    AudioPart,
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    TextPart,
    ThinkingPart,
    ToolCall,
)
from insightforge.errors import Unsupported
from insightforge.testing import strategies as S
from providers import Anthropic, HuggingFace, Ollama, OpenAI
from providers import _anthropic_wire as anthropic_wire
from providers import _ollama_wire as ollama_wire
from providers import _openai_wire as openai_wire
from providers._capabilities import require

PNG, WAV, PDF = S.PNG, S.WAV, S.PDF
B64 = base64.b64encode(PNG).decode()


def ask(*parts: Any) -> ChatRequest:
    return ChatRequest([Message("user", list(parts))])


def test_openai_parts() -> None:
    body = openai_wire.chat_body(ask("look", ImagePart(data=PNG, detail="low"),
                                     ImagePart("https://x.example/a.png"), AudioPart(WAV),
                                     FilePart(PDF, filename="r.pdf")), "gpt-4o")
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64}",
                                            "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://x.example/a.png"}},
        {"type": "input_audio", "input_audio": {"data": base64.b64encode(WAV).decode(),
                                                "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,"
                                  + base64.b64encode(PDF).decode(), "filename": "r.pdf"}}]
    assert openai_wire.chat_body(ChatRequest("hi"), "m")["messages"][0]["content"] == "hi"


def test_openai_drops_reasoning_and_refuses_media_outside_user_turns() -> None:
    said = Message("assistant", [ThinkingPart("hm", signature="s"), TextPart("yes")],
                   tool_calls=[ToolCall("c1", "f")])
    body = openai_wire.chat_body(ChatRequest([Message("user", "q"), said]), "m")
    assert body["messages"][1]["content"] == "yes"  # Chat Completions takes no reasoning
    with pytest.raises(Unsupported, match="openai cannot take a image part in a system"):
        openai_wire.chat_body(ChatRequest([Message("system", [ImagePart(data=PNG)]),
                                           Message("user", "q")]), "m")
    with pytest.raises(Unsupported, match="given by URL"):
        openai_wire.chat_body(ask(FilePart(url="https://x.example/a.pdf")), "m")


def test_anthropic_parts() -> None:
    system, turns = anthropic_wire.messages(ask(
        "look", ImagePart(data=PNG), ImagePart("https://x.example/a.png"),
        FilePart(PDF, filename="r.pdf"), FilePart(b"plain words", media_type="text/plain")))
    assert system == [] and turns[0]["content"] == [
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": B64}},
        {"type": "image", "source": {"type": "url", "url": "https://x.example/a.png"}},
        {"type": "document", "title": "r.pdf", "source": {
            "type": "base64", "media_type": "application/pdf",
            "data": base64.b64encode(PDF).decode()}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                        "data": "plain words"}}]
    with pytest.raises(Unsupported, match="anthropic cannot take an audio part"):
        anthropic_wire.messages(ask(AudioPart(WAV)))
    with pytest.raises(Unsupported, match="image/png file"):
        anthropic_wire.messages(ask(FilePart(PNG)))


def test_anthropic_sends_signed_thinking_first_and_drops_unsigned() -> None:
    said = Message("assistant", [TextPart("let me check"), ThinkingPart("hm", signature="s1"),
                                 ThinkingPart("unsigned"), ThinkingPart(data="enc")],
                   tool_calls=[ToolCall("t1", "lookup", '{"q": 1}')])
    _, turns = anthropic_wire.messages(ChatRequest([Message("user", "q"), said,
                                                    Message("tool", "42", tool_call_id="t1")]))
    assert turns[1]["content"] == [
        {"type": "thinking", "thinking": "hm", "signature": "s1"},
        {"type": "redacted_thinking", "data": "enc"},
        {"type": "text", "text": "let me check"},
        {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"q": 1}}]
    assert turns[2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t1", "content": "42"}]}


def test_ollama_images_and_reasoning() -> None:
    said = Message("assistant", [ThinkingPart("hm"), TextPart("yes")])
    body = ollama_wire.chat_body(ChatRequest([Message("user", ["a", ImagePart(data=PNG), "b"]),
                                              said]), model="llava", stream=False)
    assert body["messages"] == [{"role": "user", "content": "a\nb", "images": [B64]},
                                {"role": "assistant", "content": "yes", "thinking": "hm"}]
    with pytest.raises(Unsupported, match="ollama cannot take an image given by URL"):
        ollama_wire.chat_body(ask(ImagePart("https://x.example/a.png")), model="m",
                              stream=False)


PROVIDERS = {"openai": OpenAI("gpt-4o", api_key="k"), "ollama": Ollama("llava"),
             "anthropic": Anthropic(api_key="k"),
             "huggingface": HuggingFace(base_url="http://127.0.0.1:9")}


def _body(name: str, request: ChatRequest) -> dict[str, Any]:
    if name == "anthropic":
        return anthropic_wire.chat_body(request, model="claude-sonnet-4-5", max_tokens=100,
                                        stream=False)
    if name == "ollama":
        return ollama_wire.chat_body(request, model="llava", stream=False)
    return openai_wire.chat_body(request, "gpt-4o", provider=name)


@given(st.sampled_from(sorted(PROVIDERS)), st.lists(S.parts(), min_size=1, max_size=4))
def test_every_part_maps_or_is_refused_by_name(name: str, parts: list[Any]) -> None:
    """The capability check and the wire mapping together: a part reaches the body (its
    bytes base64, its URL, its text) or the provider refuses it naming itself."""
    provider = PROVIDERS[name]
    request = ask(*parts)
    try:
        require(provider, request)
        body = json.dumps(_body(name, request))
    except Unsupported as exc:
        assert exc.provider == name and name in str(exc)
        return
    for part in parts:
        if isinstance(part, TextPart):
            assert json.dumps(part.text)[1:-1] in body or not part.text
        elif getattr(part, "data", None) is not None and (
                not isinstance(part, FilePart) or part.media_type != "text/plain"):
            assert base64.b64encode(part.data).decode() in body
        elif getattr(part, "url", None) is not None:
            assert part.url in body


def test_capabilities_refuse_before_the_wire_naming_the_part() -> None:
    with pytest.raises(Unsupported, match=r"ollama cannot take an audio part \(AudioPart\) in "
                       r"message 0 \(capability 'audio'\)"):
        require(PROVIDERS["ollama"], ask(AudioPart(WAV)))
    with pytest.raises(Unsupported, match="huggingface cannot take a JSON Schema"):
        require(PROVIDERS["huggingface"], ChatRequest("x", response_format={"type": "object"}))
    with pytest.raises(Unsupported, match="huggingface cannot take reasoning="):
        require(PROVIDERS["huggingface"], ChatRequest("x", reasoning="low"))
    require(PROVIDERS["huggingface"], ChatRequest("x", response_format="json"))  # JSON mode
    require(PROVIDERS["ollama"], ChatRequest([Message("user", "x", cache="1h")]))  # a hint
