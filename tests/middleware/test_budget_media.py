"""The Budget counts every input (issue 11): images, audio, files and thinking sent back are
bounded by the vendors' published rules (middleware/budget/media.py), so a request with
media reserves at least what its vendor could bill for it.

Each published example below is the vendor's own worked number; the bound must cover it.
"""

from __future__ import annotations

import io
import wave
from decimal import Decimal
from typing import Any

import pytest

from insightforge import (
    AudioPart,
    ChatRequest,
    ChatResponse,
    FilePart,
    ImagePart,
    Message,
    TextPart,
    ThinkingPart,
    stack,
)
from insightforge.pricing import Price
from insightforge.types import Route, Usage
from middleware.budget import Budget
from middleware.budget.media import (
    AUDIO_TEXT_TOKENS_PER_SECOND,
    FILE_URL_TOKENS,
    IMAGE_TOKENS,
    audio_seconds,
    image_tokens_for,
)
from middleware.budget.policy import estimate_input_tokens

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _wav(seconds: float, rate: int = 16_000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return out.getvalue()


def _ask(*parts: Any) -> ChatRequest:
    return ChatRequest(messages=(Message("user", (TextPart("what is this?"), *parts)),))


BASE = estimate_input_tokens(ChatRequest(messages=(Message("user", "what is this?"),)))


# (model, what, published tokens): OpenAI's vision pricing examples and Anthropic's table.
PUBLISHED_IMAGES = [
    ("gpt-4o", "1024x1024 high detail: 4 tiles", 85 + 170 * 4),
    ("gpt-4o", "2048x4096 high detail: 6 tiles", 85 + 170 * 6),
    ("gpt-4o", "largest: 8 tiles", 85 + 170 * 8),
    ("gpt-4.1-mini", "1,536 patches x 1.62", 2_489),
    ("gpt-4.1-nano", "1,536 patches x 2.46", 3_779),
    ("o4-mini", "1,536 patches x 1.72", 2_642),
    ("gpt-4o-mini", "1024x1024 high detail: 4 tiles", 2_833 + 5_667 * 4),
    ("gpt-4o-mini-2024-07-18", "largest: 8 tiles", 2_833 + 5_667 * 8),
    ("claude-sonnet-4-5", "1092x1092 (1.19 MP)", 1_590),
    ("gemini-2.5-flash", "one tile", 258),
]


@pytest.mark.parametrize(("model", "what", "published"), PUBLISHED_IMAGES)
def test_an_image_bound_covers_the_published_count(model: str, what: str,
                                                   published: int) -> None:
    assert image_tokens_for([model]) >= published, what


def test_each_image_adds_its_bound_to_the_estimate() -> None:
    one = estimate_input_tokens(_ask(ImagePart(data=PNG)))
    two = estimate_input_tokens(_ask(ImagePart(data=PNG), ImagePart("https://x/y.png")))
    assert one - BASE >= IMAGE_TOKENS and two - one == IMAGE_TOKENS


def test_a_gpt_4o_mini_route_reserves_its_dearer_images() -> None:
    """gpt-4o-mini bills an 8-tile image at 48,169 tokens: the reservation covers it."""
    price = Price("0.15", "0.6")

    class Vendor:
        name, model = "openai", "gpt-4o-mini"

        def routes(self) -> tuple[Route, ...]:
            return (Route("openai", "gpt-4o-mini", price, "x://"),)

        def __call__(self, request: Any, /) -> Any:
            return ChatResponse(Message("assistant", "a cat"), "gpt-4o-mini", "openai",
                                Usage(48_169 + 20, 3), "stop")

        async def acall(self, request: Any, /) -> Any:
            return self(request)

    answer: Any = stack(Budget(limit_usd=1, default_max_tokens=10), provider=Vendor())(
        _ask(ImagePart(data=PNG)))
    reserved = Decimal(next(e for e in answer.trace if e.event == "reserved").data["usd"])
    assert reserved >= price.cost(Usage(48_169 + 20, 10)) >= answer.cost_usd


def test_audio_counts_its_seconds_at_the_dearest_audio_rate() -> None:
    """60 s of WAV: gpt-4o-mini-audio bills ~600 audio tokens at $10/M (67x its $0.15/M
    text rate) — the text-equivalent bound covers it."""
    part = AudioPart(_wav(60.0), media_type="audio/wav")
    assert audio_seconds(part) == pytest.approx(60.0, abs=0.01)  # header bytes count too
    tokens = estimate_input_tokens(_ask(part)) - BASE
    assert tokens >= 60 * AUDIO_TEXT_TOKENS_PER_SECOND
    assert Decimal(tokens) * Decimal("0.15") >= Decimal(600) * Decimal(10)


def test_a_wav_header_that_lies_about_its_length_is_not_believed() -> None:
    honest = _wav(10.0)
    with wave.open(io.BytesIO(honest)) as w:
        assert w.getnframes() == 160_000
    lying = bytearray(honest)
    lying[40:44] = (2).to_bytes(4, "little")  # the data chunk claims 2 bytes
    assert audio_seconds(AudioPart(bytes(lying), media_type="audio/wav")) >= 9.99


def test_compressed_audio_is_assumed_at_the_lowest_bit_rate() -> None:
    mp3 = b"ID3" + b"\0" * 39_997  # 40 kB: at least 20 s at 16 kbit/s
    assert audio_seconds(AudioPart(mp3, media_type="audio/mpeg")) == pytest.approx(20.0)


def test_files_count_their_bytes_and_a_url_its_ceiling() -> None:
    pdf = b"%PDF-1.7\n" + b"x" * 10_000
    assert estimate_input_tokens(_ask(FilePart(pdf, media_type="application/pdf"))) - BASE \
        >= len(pdf)
    by_url = FilePart(url="https://example.com/report.pdf", media_type="application/pdf")
    assert estimate_input_tokens(_ask(by_url)) - BASE >= FILE_URL_TOKENS


def test_thinking_sent_back_counts_its_text_and_signature() -> None:
    thought = ThinkingPart("let me think " * 100, signature="s" * 500)
    history = ChatRequest(messages=(
        Message("user", "q"), Message("assistant", (thought, TextPart("a"))),
        Message("user", "and?")))
    plain = ChatRequest(messages=(Message("user", "q"), Message("assistant", "a"),
                                  Message("user", "and?")))
    assert estimate_input_tokens(history) - estimate_input_tokens(plain) >= 1_300 + 500
