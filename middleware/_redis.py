"""One redis-py client per process for the Redis-backed stores (budget ledger, cache).

Opened lazily with finite socket timeouts; re-made after a fork (a client and its pool
must never cross processes); thread-safe to open. ``on_new`` lets a store reset per-process
state when a new client is made (the cache's local hit counts). What must not live here:
any store's keys, scripts or data.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["ProcessRedis"]


class ProcessRedis:
    """A lazily opened redis-py client that belongs to the current process."""

    def __init__(self, url: str, *, timeout: float,
                 on_new: Callable[[], None] | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self._on_new = on_new
        self._client: Any = None
        self._pid = 0
        self._lock = threading.Lock()

    @property
    def opened(self) -> bool:
        """A client exists in this process."""
        return self._client is not None and self._pid == os.getpid()

    def get(self) -> Any:
        """The client, made (or re-made after a fork) on demand."""
        client = self._client
        if client is not None and self._pid == os.getpid():
            return client
        with self._lock:  # one client per process, even when threads race to open it
            if self._client is None or self._pid != os.getpid():
                import redis

                self._client = redis.Redis.from_url(self.url, socket_timeout=self.timeout,
                                                    socket_connect_timeout=self.timeout)
                self._pid = os.getpid()
                if self._on_new is not None:
                    self._on_new()
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
