"""Upper bounds of what content parts cost in input tokens, pure.

Text is bounded by its UTF-8 bytes (:mod:`.policy`); media are not text, so each kind has
its own bound, chosen from the vendors' published rules and documented here so a reader can
check it:

* **Images** cost a fixed-size allowance, whatever their bytes: OpenAI's tile rule (GPT-4o,
  GPT-4.1, o-series, GPT-5: at most 8 tiles after scaling) and patch rule (GPT-4.1-mini/nano,
  o4-mini: at most 1,536 patches x a 1.62-2.46 multiplier = 3,779), Anthropic's
  ``width x height / 750`` after scaling to 1.15 megapixels (about 1,600), Gemini's 258 per
  tile. :data:`IMAGE_TOKENS` covers them all; models that bill images far dearer (the
  ``gpt-4o-mini`` family prices an image as 2,833 + 5,667 per tile) are listed in
  :data:`IMAGE_TOKENS_BY_MODEL` and matched by prefix, so a dated snapshot inherits it.
* **Audio** is billed per second at audio rates the price table does not carry (up to 67x
  the text input rate: ``gpt-4o-mini-audio``, about 10 tokens a second; Gemini 32 tokens a
  second at 3.3x). It is counted as :data:`AUDIO_TEXT_TOKENS_PER_SECOND` text-equivalent
  tokens a second of sound; a WAV's duration is read from its header, any other format is
  assumed to be at least :data:`MIN_AUDIO_BYTES_PER_SECOND` (16 kbit/s, below any codec
  vendors accept for speech at useful quality).
* **Files** (PDFs, documents) are text and page images: a page costs at most its text plus
  one image, and a PDF page is never smaller than the tokens it yields, so a file counts its
  bytes plus :data:`FILE_TOKENS`; a file sent by URL (size unknown) counts
  :data:`FILE_URL_TOKENS` (Anthropic's 100-page limit at ~2,000 tokens a page, doubled).
* **Thinking** sent back in a conversation counts its text and signature bytes (a vendor that
  drops it from the context bills less, never more).

What must not live here: prices, I/O (a URL is never fetched to measure it).
"""

from __future__ import annotations

import io
import math
import wave
from collections.abc import Iterable

from insightforge.types import AudioPart, FilePart, ImagePart, Message, Part, ThinkingPart

__all__ = [
    "AUDIO_TEXT_TOKENS_PER_SECOND",
    "FILE_TOKENS",
    "FILE_URL_TOKENS",
    "IMAGE_TOKENS",
    "IMAGE_TOKENS_BY_MODEL",
    "MIN_AUDIO_BYTES_PER_SECOND",
    "audio_seconds",
    "image_count",
    "image_tokens_for",
    "part_tokens",
]

IMAGE_TOKENS = 4_000
"""Input tokens one image may cost on any model not listed in :data:`IMAGE_TOKENS_BY_MODEL`."""
IMAGE_TOKENS_BY_MODEL = {"gpt-4o-mini": 2_833 + 8 * 5_667}
"""Models whose images cost more than :data:`IMAGE_TOKENS` (model-name prefix -> bound)."""
AUDIO_TEXT_TOKENS_PER_SECOND = 700
"""Text-equivalent input tokens per second of audio (10 tokens/s x 67, rounded up)."""
MIN_AUDIO_BYTES_PER_SECOND = 2_000
"""The lowest bit rate assumed for compressed audio (16 kbit/s)."""
FILE_TOKENS = 3_000
"""Tokens added to a file's byte count (its page images and framing)."""
FILE_URL_TOKENS = 400_000
"""Tokens counted for a file sent by URL, whose size is not known before the call."""


def image_tokens_for(models: Iterable[str | None]) -> int:
    """The per-image bound over the models a request may reach."""
    bound = IMAGE_TOKENS
    for model in models:
        for prefix, tokens in IMAGE_TOKENS_BY_MODEL.items():
            if model and model.startswith(prefix):
                bound = max(bound, tokens)
    return bound


def image_count(messages: Iterable[Message]) -> int:
    """How many images the conversation carries."""
    count = 0
    for m in messages:
        if not isinstance(m.content, str):  # text alone carries no image
            count += sum(isinstance(p, ImagePart) for p in m.content)
    return count


def audio_seconds(part: AudioPart) -> float:
    """An upper bound of the sound's duration: the WAV header's, or bytes at 16 kbit/s."""
    if part.data[:4] == b"RIFF" and part.data[8:12] == b"WAVE":
        try:  # the longer of what the header says and what the bytes can hold
            with wave.open(io.BytesIO(part.data)) as w:
                frame_bytes = w.getnchannels() * w.getsampwidth()
                rate = w.getframerate()
                if rate > 0 and frame_bytes > 0:
                    return float(max(w.getnframes(), len(part.data) / frame_bytes) / rate)
        except (wave.Error, EOFError):
            pass  # a damaged header: fall back to the byte bound
    return len(part.data) / MIN_AUDIO_BYTES_PER_SECOND


def part_tokens(part: Part) -> int:
    """The bound of one non-text part (images at :data:`IMAGE_TOKENS`; text parts are
    counted as text by the caller and give 0 here)."""
    if isinstance(part, ImagePart):
        return IMAGE_TOKENS
    if isinstance(part, AudioPart):
        return math.ceil(audio_seconds(part) * AUDIO_TEXT_TOKENS_PER_SECOND) + 1
    if isinstance(part, FilePart):
        if part.data is None:
            return FILE_URL_TOKENS
        return len(part.data) + FILE_TOKENS
    if isinstance(part, ThinkingPart):
        return sum(len(s.encode("utf-8")) for s in (part.text, part.signature or "",
                                                    part.data or ""))
    return 0
