"""Conformance checks of content parts: images, audio, files.

For each, a provider that declares the capability (``provider.capabilities``) answers a
question about the part exactly as the emulator predicts — it describes the bytes it was
sent, ``<image/png 73 bytes sha256:...>``, so an answer proves the bytes arrived intact —
sync, async and streamed; one that does not declare it raises ``Unsupported`` before any
network call.
"""

from __future__ import annotations

from typing import Any

from insightforge.testing.conformance.capability_support import (
    ask_three_ways,
    capabilities,
    expect_refused,
)
from insightforge.testing.conformance.spec import Kit, expect
from insightforge.testing.emulator.media import describe
from insightforge.testing.part_strategies import PDF, PNG, WAV
from insightforge.types import AudioPart, ChatRequest, FilePart, ImagePart, Message

__all__ = ["check_audio", "check_files", "check_images"]


def _check_part(kit: Kit, capability: str, question: str, part: Any, kind: str,
                media_type: str, data: bytes) -> None:
    provider = kit.build()
    request = ChatRequest([Message("user", [question, part])])
    if capability not in capabilities(provider):
        expect_refused(kit, provider, request, capability)
        return
    seen = f"{question}\n{describe(kind, media_type, data)}"
    want = "Echo: " + seen
    for where, answer in zip(("plain", "async", "stream"),
                             ask_three_ways(kit, provider, request, capability), strict=True):
        expect(answer.text == want, f"{capability} ({where}): answer {answer.text!r}, expected "
               f"{want!r} (the emulated model describes the bytes it received: were they "
               "sent intact, with the right media type?)")
        prompt = len(seen.split()) + 3  # the emulator's count: words + 3 per message
        expect(answer.usage.estimated or answer.usage.input_tokens == prompt,
               f"{capability} ({where}): usage.input_tokens {answer.usage.input_tokens}, "
               f"expected {prompt}")


def check_images(kit: Kit) -> None:
    """An image (bytes) reaches the model intact; without ``images``: ``Unsupported``."""
    _check_part(kit, "images", "What is in this image?", ImagePart(data=PNG), "image",
                "image/png", PNG)


def check_audio(kit: Kit) -> None:
    """Audio (WAV bytes) reaches the model intact; without ``audio``: ``Unsupported``."""
    _check_part(kit, "audio", "Transcribe this.", AudioPart(WAV), "audio", "audio/wav", WAV)


def check_files(kit: Kit) -> None:
    """A PDF reaches the model intact; without ``files``: ``Unsupported``."""
    _check_part(kit, "files", "Summarise this document.",
                FilePart(PDF, filename="report.pdf"), "file", "application/pdf", PDF)
