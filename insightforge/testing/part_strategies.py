"""Hypothesis strategies for content parts, cache marks and reasoning settings.

What lives here: small, valid media samples (:data:`PNG`, :data:`WAV`, :data:`PDF` — real
file headers, so media types sniff), :func:`parts` (any part; thinking only when asked),
:func:`part_messages` (messages whose content is a tuple of parts) and the request
controls (:data:`cache_marks`, :data:`reasonings`). Re-exported by
:mod:`insightforge.testing.strategies`; hypothesis is imported here and only in tests.
"""

from __future__ import annotations

import struct
import zlib

from hypothesis import strategies as st

from insightforge.types import (
    AudioPart,
    CacheControl,
    FilePart,
    ImagePart,
    Message,
    Part,
    Reasoning,
    TextPart,
    ThinkingPart,
)

__all__ = ["PDF", "PNG", "WAV", "cache_marks", "media_parts", "part_messages", "parts",
           "reasonings"]


def _png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def _wav(samples: int = 8) -> bytes:
    data = b"\x00\x00" * samples
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack(
        "<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


PNG = _png()
"""A valid 2x2 red PNG (73 bytes)."""
WAV = _wav()
"""A valid, silent 16-bit mono WAV."""
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
"""A minimal PDF header and trailer."""

_tail = st.binary(max_size=24)
_texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
_urls = st.from_regex(r"https://[a-z]{1,10}\.example/[a-z0-9]{1,10}\.(png|jpg)", fullmatch=True)

media_parts: st.SearchStrategy[Part] = st.one_of(
    st.builds(lambda tail: ImagePart(data=PNG + tail), _tail),
    st.builds(ImagePart, _urls, detail=st.none() | st.sampled_from(["auto", "low", "high"])),
    st.builds(lambda tail: AudioPart(WAV + tail), _tail),
    st.builds(lambda tail, name: FilePart(PDF + tail, filename=name), _tail,
              st.none() | st.just("report.pdf")),
    st.builds(lambda text: FilePart(text.encode("utf-8") or b"x", media_type="text/plain"),
              _texts),
)
"""Images (bytes or URL), audio and files."""


def parts(thinking: bool = False) -> st.SearchStrategy[Part]:
    """Any part (text or media; reasoning blocks too when ``thinking``)."""
    out: st.SearchStrategy[Part] = st.builds(TextPart, _texts) | media_parts
    if thinking:
        out = out | st.builds(ThinkingPart, _texts, signature=st.none() | st.text(max_size=12),
                              data=st.none() | st.just("ZW5jcnlwdGVk"))
    return out


cache_marks = st.none() | st.sampled_from([CacheControl("5m"), CacheControl("1h")])
"""No mark, or a five-minute or one-hour cache mark."""

reasonings = st.none() | st.builds(Reasoning, st.sampled_from(["minimal", "low", "medium",
                                                                "high"]),
                                   budget_tokens=st.none() | st.integers(1024, 32000))
"""No reasoning setting, or any valid one."""


@st.composite
def part_messages(draw: st.DrawFn, role: str | None = None) -> Message:
    """A message whose content is a tuple of parts (thinking only on assistants)."""
    role = role or draw(st.sampled_from(["system", "user", "assistant"]))
    content = draw(st.lists(parts(thinking=role == "assistant"), min_size=1, max_size=3))
    return Message(role, tuple(content), cache=draw(cache_marks))
