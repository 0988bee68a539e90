"""The request log: what the emulator received, in arrival order.

What lives here: `RecordedRequest` (one request as received, with the fault applied to it)
and `RequestLog`, the thread-safe list the server appends to and tests read. Headers are
recorded as sent (tests check that credentials arrive); nothing here is ever printed.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RecordedRequest", "RequestLog"]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the emulator received.

    Attributes:
        api: "openai", "azure", "anthropic", "ollama" or "hf".
        method: the HTTP method.
        path: the URL path, without the query string.
        headers: the request headers, names lower-cased.
        body: the parsed JSON body, or None (no body, or not valid JSON).
        at: `time.monotonic()` when the request was read.
        fault: the kind of the fault applied to it ("status", "stall", ...), or None.
        query: the query parameters.
    """

    api: str
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float
    fault: str | None = None
    query: dict[str, str] = field(default_factory=dict)


class RequestLog:
    """A thread-safe, append-only (until `clear`) list of `RecordedRequest`.

    `limit`: keep only the newest `limit` records (None: keep all), for long-running servers.
    """

    def __init__(self, limit: int | None = None) -> None:
        self._lock = threading.Lock()
        self._items: deque[RecordedRequest] = deque(maxlen=limit)

    def append(self, item: RecordedRequest) -> None:
        """Record one request."""
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[RecordedRequest]:
        """A copy of the log, oldest first."""
        with self._lock:
            return list(self._items)

    def count(self, api: str | None = None, path: str | None = None) -> int:
        """How many requests match `api` (exactly) and `path` (as a substring)."""
        return sum(
            1
            for item in self.snapshot()
            if (api is None or item.api == api) and (path is None or path in item.path)
        )

    def clear(self) -> None:
        """Forget every recorded request."""
        with self._lock:
            self._items.clear()
