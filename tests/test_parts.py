"""Content parts, cache marks and the reasoning setting: validation, conversions, dict forms.

The invariants are properties: every part round-trips through our dict form (and JSON)
unchanged, a request with parts serialises deterministically, and the redactor never lets
a byte of a part through.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import attrs
import pytest
from hypothesis import given

from insightforge import (
    AudioPart,
    CacheControl,
    ChatRequest,
    ChatResponse,
    Chunk,
    FilePart,
    ImagePart,
    Message,
    Reasoning,
    TextPart,
    ThinkingDelta,
    ThinkingPart,
    Tool,
)
from insightforge.redact import Redactor
from insightforge.serialize import from_dict, to_dict
from insightforge.streams import assemble
from insightforge.testing import strategies as S
from insightforge.types.parts import describe_bytes, part_dict, sniff, to_part

PNG = S.PNG
WAV = S.WAV
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_a_plain_string_stays_a_string_and_text_is_always_a_string() -> None:
    message = Message("user", "hi")
    assert message.content == "hi" and message.text == "hi"
    assert message.parts == (TextPart("hi"),) and message.media == () == message.thinking
    assert Message("user").parts == ()


def test_parts_from_objects_strings_and_openai_dicts() -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    message = Message("user", ["What is in", TextPart(" this image?"),
                               {"type": "image_url", "image_url": {"url": url,
                                                                   "detail": "low"}},
                               {"type": "image_url", "image_url": {"url": "https://x/y.jpg"}}])
    assert message.text == "What is in this image?"
    image, remote = message.media
    assert image == ImagePart(data=PNG, media_type="image/png", detail="low")
    assert remote == ImagePart("https://x/y.jpg") and remote.data is None
    assert image.describe().startswith(f"<image/png {len(PNG)} bytes sha256:")
    assert image.digest is not None and len(image.digest) == 64 and remote.digest is None


def test_vendor_dict_forms_of_audio_files_and_thinking() -> None:
    b64 = base64.b64encode
    audio = to_part({"type": "input_audio", "input_audio": {"data": b64(WAV).decode(),
                                                            "format": "wav"}})
    assert audio == AudioPart(WAV, media_type="audio/wav") and audio.format == "wav"
    pdf = to_part({"type": "file", "file": {"file_data": "data:application/pdf;base64,"
                                            + b64(PDF).decode(), "filename": "a.pdf"}})
    assert pdf == FilePart(PDF, media_type="application/pdf", filename="a.pdf")
    doc = to_part({"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                                  "data": "hello"}})
    assert doc == FilePart(b"hello", media_type="text/plain")
    image = to_part({"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                 "data": b64(PNG).decode()}})
    assert image == ImagePart(data=PNG)
    assert to_part({"type": "thinking", "thinking": "hm", "signature": "s"}) == \
        ThinkingPart("hm", signature="s")
    assert to_part({"type": "redacted_thinking", "data": "enc"}) == ThinkingPart(data="enc")


@pytest.mark.parametrize(("make", "says"), [
    (lambda: ImagePart(), "exactly one of url= or data="),
    (lambda: ImagePart("https://a", data=PNG), "exactly one of url= or data="),
    (lambda: ImagePart("ftp://a"), "http(s)://"),
    (lambda: ImagePart(data=b"not an image"), "pass media_type="),
    (lambda: ImagePart(data=PNG, media_type="image/tiff"), "media_type must be one of"),
    (lambda: ImagePart(data=PNG, detail="ultra"), "detail must be one of"),
    (lambda: ImagePart(data=b""), "data is empty"),
    (lambda: AudioPart(PNG), "pass media_type="),
    (lambda: FilePart(b"plain words"), "pass media_type="),
    (lambda: to_part({"type": "video"}), "unknown content part type"),
    (lambda: to_part({"type": "image_url"}), "image_url: {'url'"),
    (lambda: to_part({"type": "file", "file": {"file_id": "f1"}}), "not portable"),
    (lambda: to_part({"type": "image", "data": "%%%"}), "not valid base64"),
    (lambda: Message("user", [ThinkingPart("x")]), "only assistant messages carry thinking"),
    (lambda: CacheControl("2h"), "'5m' or '1h'"),
    (lambda: Reasoning("extreme"), "reasoning effort must be one of"),
    (lambda: Reasoning(budget_tokens=0), "budget_tokens must be a positive integer"),
])
def test_bad_parts_and_controls_say_the_fix(make: Any, says: str) -> None:
    with pytest.raises(ValueError, match=None) as caught:
        make()
    assert says in str(caught.value)


def test_wrong_types_are_type_errors() -> None:
    with pytest.raises(TypeError, match="content part must be"):
        to_part(42)
    with pytest.raises(TypeError, match="message content must be"):
        Message("user", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cache must be"):
        Message("user", "x", cache=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="reasoning must be"):
        ChatRequest("x", reasoning=3)  # type: ignore[arg-type]


def test_short_forms_of_cache_and_reasoning() -> None:
    assert Message("system", "x", cache=True).cache == CacheControl("5m")
    assert Message("system", "x", cache="1h").cache == CacheControl("1h")
    assert Message("system", "x", cache={"type": "ephemeral"}).cache == CacheControl()
    assert Tool("t", cache="5m").cache == CacheControl()
    assert ChatRequest("x", reasoning="high").reasoning == Reasoning("high")
    assert ChatRequest("x", reasoning=True).reasoning == Reasoning()
    assert ChatRequest("x", reasoning={"budget_tokens": 2048}).reasoning == Reasoning(
        budget_tokens=2048)
    request = ChatRequest([{"role": "user", "content": [{"type": "text", "text": "a"}],
                            "cache_control": {"type": "ephemeral", "ttl": "1h"}}])
    assert request.messages[0] == Message("user", [TextPart("a")], cache="1h")


def test_sniffing_and_descriptions() -> None:
    assert [sniff(x) for x in (PNG, WAV, PDF, b"\xff\xd8\xff\xe0", b"GIF89a..", b"??")] == [
        "image/png", "audio/wav", "application/pdf", "image/jpeg", "image/gif", None]
    assert describe_bytes("image/png", b"abc") == (
        "<image/png 3 bytes sha256:ba7816bf8f01>")
    assert "bytes" not in repr(ImagePart(data=PNG)).replace("<73 bytes>", "")


@given(S.parts())
def test_every_part_round_trips_through_its_dict_form_and_json(part: Any) -> None:
    data = part_dict(part)
    assert to_part(json.loads(json.dumps(data))) == part
    assert from_dict(type(part), to_dict(part)) == part


@given(S.chat_requests(parts=True))
def test_requests_with_parts_serialise_deterministically(request: ChatRequest) -> None:
    first = json.dumps(to_dict(request), sort_keys=True)
    again = json.dumps(to_dict(attrs.evolve(request)), sort_keys=True)
    assert first == again
    assert from_dict(ChatRequest, json.loads(first)) == request


@given(S.chat_requests(parts=True))
def test_no_byte_of_a_part_ever_reaches_redacted_output(request: ChatRequest) -> None:
    redactor = Redactor()
    for view in (to_dict(request), [m.content for m in request.messages]):
        out = json.dumps(redactor(view))
        for message in request.messages:
            for part in message.media:
                if part.data is not None and len(part.data) >= 8:
                    assert base64.b64encode(part.data).decode() not in out
                    assert part.describe() in out


def test_redactor_redacts_text_parts_and_describes_data_urls() -> None:
    redactor = Redactor()
    message = Message("user", ["mail me at ann@example.com", ImagePart(data=PNG)])
    out = redactor([message.content[0], message.content[1], PNG,
                    "data:image/png;base64," + base64.b64encode(PNG).decode()])
    assert out[0] == {"type": "text", "text": "mail me at [REDACTED:email]"}
    assert out[1] == out[3] == ImagePart(data=PNG).describe()
    assert out[2].startswith(f"<{len(PNG)} bytes sha256:")
    thinking = redactor(ThinkingPart("ann@example.com", signature="sig"))
    assert thinking == {"type": "thinking", "text": "[REDACTED:email]"}


def test_responses_carry_parsed_values_and_reasoning() -> None:
    message = Message("assistant", [ThinkingPart("let me see", signature="s1"),
                                    TextPart('{"a": 1}')])
    response = ChatResponse(message, "m", "p", parsed={"a": 1})
    assert response.text == '{"a": 1}' and response.reasoning == "let me see"
    assert response.thinking == (ThinkingPart("let me see", signature="s1"),)
    assert from_dict(ChatResponse, json.loads(json.dumps(to_dict(response)))) == response


def test_the_assembler_joins_reasoning_blocks_with_their_signatures() -> None:
    chunks = [Chunk(thinking=(ThinkingDelta(0, "let "),)),
              Chunk(thinking=(ThinkingDelta(0, "me see"),)),
              Chunk(thinking=(ThinkingDelta(0, signature="sig"),)),
              Chunk(thinking=(ThinkingDelta(1, data="enc"),)),
              Chunk("Echo"), Chunk(" hi", finish_reason="stop")]
    assert chunks[0].reasoning == "let " and chunks[4].reasoning == ""
    response = assemble(chunks, model="m", provider="p")
    assert response.message == Message("assistant", [
        ThinkingPart("let me see", signature="sig"), ThinkingPart(data="enc"),
        TextPart("Echo hi")])
    assert response.text == "Echo hi" and response.reasoning == "let me see"
    plain = assemble([Chunk("a")], model="m", provider="p")
    assert plain.message == Message("assistant", "a")
