"""The emulated vendors' prompt cache: which prefixes were seen, and what a request reads
from and writes to it.

What lives here: :class:`PromptCache` (a thread-safe set of prefix digests, shared by the
handler threads, cleared by ``Emulator.reset``), :class:`CacheUse` (the tokens of a
request read from the cache and written to it, five-minute and one-hour parts) and
:func:`account` (Anthropic-style breakpoints: the longest already-cached breakpoint prefix
is read; each later segment is written with its breakpoint's lifetime). The emulator
caches from the first token (real vendors need 1024+ tokens), so tests stay small.
Pure bookkeeping apart from the lock.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["NO_CACHE", "CacheUse", "PromptCache", "account", "digest"]


@dataclass(frozen=True, slots=True)
class CacheUse:
    """Prompt tokens read from the cache and written to it.

    Attributes:
        read: tokens read; write_5m, write_1h: tokens written with each lifetime.
    """

    read: int = 0
    write_5m: int = 0
    write_1h: int = 0

    @property
    def written(self) -> int:
        return self.write_5m + self.write_1h


NO_CACHE = CacheUse()
"""A request that neither read nor wrote the cache."""


class PromptCache:
    """The set of cached prefix digests (thread-safe)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def seen(self, key: str) -> bool:
        with self._lock:
            return key in self._seen

    def add(self, *keys: str) -> None:
        with self._lock:
            self._seen.update(keys)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


def digest(*parts: Any) -> str:
    """A stable digest of JSON-able `parts` (the model and the prefix content)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def account(cache: PromptCache, keys: Sequence[str], tokens: Sequence[int],
            ttls: Sequence[str]) -> CacheUse:
    """What a request with breakpoints (prefix `keys`, cumulative prefix `tokens`, in prompt
    order, with their `ttls`) reads and writes; every breakpoint prefix is cached after."""
    hit = max((i for i, key in enumerate(keys) if cache.seen(key)), default=-1)
    read = tokens[hit] if hit >= 0 else 0
    written = {"5m": 0, "1h": 0}
    done = read
    for index in range(hit + 1, len(keys)):
        written[ttls[index]] += max(tokens[index] - done, 0)
        done = max(done, tokens[index])
    cache.add(*keys)
    return CacheUse(read, written["5m"], written["1h"])
