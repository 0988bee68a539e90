"""Streamed answers: :class:`ChatStream` (sync) and :class:`AsyncChatStream` (async).

A stream is an iterator of :class:`~insightforge.types.Chunk` with a lifecycle that ends
exactly once, in one of three ways, each with its hook:

* **end** — the source is exhausted; ``.response`` is the assembled
  :class:`~insightforge.types.ChatResponse` (``on_end`` may replace it: add cost, trace);
* **error** — the source raised; ``on_error`` sees the exception, which then propagates;
* **abandon** — the consumer called ``close()`` (or dropped the stream) before the end;
  ``on_close`` runs, so budgets release and audit logs write (PEP 3333's rule: never assume
  the consumer reads to the end).

Providers build streams from chunk iterators (:meth:`ChatStream.from_chunks`); layers wrap
the inner stream with :meth:`ChatStream.wrap`, which passes ``close`` through.
:meth:`ChatStream.prime` pulls the first chunk early, so a ``Retry`` or ``Fallback`` sees a
failure that happens before the first chunk and may act on it; after that nothing retries.
"""

from __future__ import annotations

from insightforge.streams.aio import AsyncChatStream
from insightforge.streams.assemble import assemble
from insightforge.streams.sync import ChatStream

__all__ = ["AsyncChatStream", "ChatStream", "assemble"]
