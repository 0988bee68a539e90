"""One Redis helper for every Redis-backed store (budget ledger, cache, rate limit, keys).

:func:`redis_server` gives the process's one :class:`RedisServer` for a URL: a redis-py
client opened lazily with finite socket timeouts, re-made after a fork (a client and its
pool never cross processes), thread-safe to open. :meth:`RedisServer.script` runs a Lua
script by its SHA and loads it again when the server answers ``NOSCRIPT`` — after a restart
or a ``SCRIPT FLUSH`` — so every store recovers by itself when its server comes back.

Failures are typed: every redis-py or socket error leaves :meth:`RedisServer.call` as
:class:`~insightforge.errors.StoreUnavailable`, with the URL's password masked. What must not
live here: any store's keys, scripts or data.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from insightforge.errors import StoreUnavailable
from insightforge.secrets import mask_url, scrub

__all__ = ["RedisServer", "Script", "redis_server"]


class Script:
    """A Lua script known by its text: run by SHA, loaded on ``NOSCRIPT``."""

    __slots__ = ("sha", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()


class RedisServer:
    """The process's client for one Redis URL (see the module docstring).

    Attributes:
        url: the URL, password masked. timeout: socket timeouts in seconds (always finite).
    """

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self._url = url
        self.timeout = timeout
        self._client: Any = None
        self._pid = 0
        self._lock = threading.Lock()
        self._on_new: list[Callable[[], None]] = []

    @property
    def url(self) -> str:
        return mask_url(self._url)

    def on_new(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever a new client is made (a store resets local tallies)."""
        self._on_new.append(callback)

    @property
    def opened(self) -> bool:
        return self._client is not None and self._pid == os.getpid()

    def client(self) -> Any:
        """The redis-py client, made (or re-made after a fork) on demand."""
        client = self._client
        if client is not None and self._pid == os.getpid():
            return client
        with self._lock:  # one client per process, even when threads race to open it
            if self._client is None or self._pid != os.getpid():
                import redis

                try:
                    self._client = redis.Redis.from_url(
                        self._url, socket_timeout=self.timeout,
                        socket_connect_timeout=self.timeout, health_check_interval=30)
                except ValueError as exc:
                    raise StoreUnavailable(self.url, operation="connect",
                                           reason=scrub(str(exc)),
                                           fix="expected redis://[:password@]host:port/db"
                                           ) from None
                self._pid = os.getpid()
                for callback in self._on_new:
                    callback()
            return self._client

    @contextlib.contextmanager
    def failures(self, operation: str) -> Iterator[None]:
        """Map every redis-py or socket error inside to ``StoreUnavailable``."""
        import redis

        try:
            yield
        except (redis.RedisError, OSError) as exc:
            reason = scrub(" ".join(str(exc).split())) or type(exc).__name__
            raise StoreUnavailable(self.url, operation=operation,
                                   reason=f"{type(exc).__name__}: {reason}") from None

    def call(self, operation: str, fn: Callable[[Any], Any]) -> Any:
        """``fn(client)`` with failures typed (``operation`` names it in the error)."""
        with self.failures(operation):
            return fn(self.client())

    def script(self, script: Script, keys: tuple[str, ...], args: tuple[Any, ...],
               operation: str) -> Any:
        """Run ``script`` (one round trip; a second only when the server lost the script)."""
        from redis.exceptions import NoScriptError

        with self.failures(operation):
            client = self.client()
            try:
                return client.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:  # a new or restarted server: load it, once
                client.script_load(script.text)
                return client.evalsha(script.sha, len(keys), *keys, *args)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            mine = self._pid == os.getpid()
        if client is not None and mine:
            with contextlib.suppress(Exception):
                client.close()

    def __repr__(self) -> str:
        return f"RedisServer({self.url!r})"


_servers: dict[tuple[str, float], RedisServer] = {}
_servers_lock = threading.Lock()


def redis_server(url: str, *, timeout: float = 5.0) -> RedisServer:
    """The process's :class:`RedisServer` for ``url`` and ``timeout`` (shared by stores)."""
    with _servers_lock:
        found = _servers.get((url, timeout))
        if found is None:
            found = _servers[(url, timeout)] = RedisServer(url, timeout=timeout)
        return found
