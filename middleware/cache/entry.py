"""What a cache stores: :class:`CacheEntry`, and its JSON form for shared stores.

An entry is the final response (trace removed, ``cached`` false) and, for a stream that
ended normally, the chunks it yielded, so a hit replays the same stream. Entries go through
the one converter (:mod:`insightforge.serialize`); they hold no request, header or
credential — only the answer. What must not live here: keys, stores, I/O.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from decimal import Decimal

import attrs

from insightforge.secrets import known_secrets, scrub
from insightforge.serialize import from_dict, to_dict
from insightforge.types import (
    ChatResponse,
    Chunk,
    EmbedResponse,
    TextPart,
    ThinkingPart,
    TraceEvent,
)
from insightforge.types.messages import Content
from insightforge.types.responses import restamp

__all__ = ["ENTRY_VERSION", "CacheEntry", "DecodeMemo", "decode", "encode", "make_entry"]

ENTRY_VERSION = 1


@attrs.frozen(slots=True)
class CacheEntry:
    """One cached answer.

    Attributes:
        response: the final response as the inner handler gave it (trace removed).
        chunks: the chunks of a stream, in order; ``None`` for a plain response.
        created: when it was stored (``time.time()``).
    """

    response: ChatResponse | EmbedResponse
    chunks: tuple[Chunk, ...] | None = None
    created: float = attrs.field(factory=time.time)

    def hit(self, event: TraceEvent) -> ChatResponse | EmbedResponse:
        """The response a hit returns: ``cached=True``, cost zero, the hit in its trace."""
        return attrs.evolve(self.response, cached=True, cost_usd=Decimal(0), trace=(event,))


def make_entry(response: ChatResponse | EmbedResponse,
               chunks: tuple[Chunk, ...] | None = None) -> CacheEntry:
    """An entry for ``response``: trace dropped, marked not cached (the hit marks it), and
    every live secret the answer repeats masked — the audit log's rule, so no store keeps a
    key verbatim."""
    secrets = known_secrets()
    if secrets and isinstance(response, ChatResponse):
        response = _scrubbed(response, secrets)
        if chunks is not None:
            chunks = tuple(_scrubbed_chunk(c, secrets) for c in chunks)
    if response.trace or response.cached:
        response = restamp(response, (), cached=False)
    return CacheEntry(response, chunks)


def _scrubbed(response: ChatResponse, secrets: list[str]) -> ChatResponse:
    m = response.message
    content = _scrubbed_content(m.content, secrets)
    calls = tuple(attrs.evolve(c, arguments=scrub(c.arguments, secrets)) for c in m.tool_calls)
    if content == m.content and calls == m.tool_calls:
        return response
    return attrs.evolve(response, message=attrs.evolve(m, content=content, tool_calls=calls))


def _scrubbed_content(content: Content, secrets: list[str]) -> Content:
    """The text of ``content`` masked: a string, or each text and thinking part's text
    (media bytes are the caller's own input echoed back at most, never a key)."""
    if isinstance(content, str):
        return scrub(content, secrets)
    return tuple(attrs.evolve(p, text=scrub(p.text, secrets))
                 if isinstance(p, (TextPart, ThinkingPart)) else p for p in content)


def _scrubbed_chunk(chunk: Chunk, secrets: list[str]) -> Chunk:
    text = scrub(chunk.text, secrets)
    deltas = tuple(attrs.evolve(d, arguments=scrub(d.arguments, secrets))
                   for d in chunk.tool_calls)
    if text == chunk.text and deltas == chunk.tool_calls:
        return chunk
    return attrs.evolve(chunk, text=text, tool_calls=deltas)


def encode(entry: CacheEntry) -> str:
    """JSON text for a shared store."""
    kind = "embed" if isinstance(entry.response, EmbedResponse) else "chat"
    data = {"v": ENTRY_VERSION, "kind": kind, "created": entry.created,
            "response": to_dict(entry.response),
            "chunks": None if entry.chunks is None else [to_dict(c) for c in entry.chunks]}
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def decode(text: str | bytes) -> CacheEntry | None:
    """The entry in ``text``; ``None`` for another version or a damaged entry (a miss)."""
    try:
        data = json.loads(text)
        if data.get("v") != ENTRY_VERSION:
            return None
        response: ChatResponse | EmbedResponse = (
            from_dict(EmbedResponse, data["response"]) if data["kind"] == "embed"
            else from_dict(ChatResponse, data["response"]))
        chunks = (None if data["chunks"] is None
                  else tuple(from_dict(Chunk, c) for c in data["chunks"]))
        return CacheEntry(response, chunks, float(data["created"]))
    except Exception:  # a damaged entry is a miss, never a crash
        return None


class DecodeMemo:
    """:func:`decode` with a small LRU keyed by the stored bytes themselves.

    A shared store hands back the same JSON for every hit on a hot key; entries are
    immutable, so equal bytes may share one decoded entry. Saves the converter's
    structuring (most of a hit's CPU time) without ever serving a different answer: the key
    is the whole stored value, not the cache key.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._memo: OrderedDict[bytes | str, CacheEntry] = OrderedDict()

    def __call__(self, raw: str | bytes) -> CacheEntry | None:
        with self._lock:
            entry = self._memo.get(raw)
            if entry is not None:
                self._memo.move_to_end(raw)
                return entry
        entry = decode(raw)
        if entry is not None and self.size:
            with self._lock:
                self._memo[raw] = entry
                if len(self._memo) > self.size:
                    self._memo.popitem(last=False)
        return entry
