"""Virtual keys in Redis (gateways on many machines).

Two hashes under one prefix: ``<prefix>records`` (id -> record JSON) and ``<prefix>digests``
(digest -> id), changed together in a MULTI/EXEC transaction. The client is the store
subsystem's per-process :func:`middleware.stores.redis_server` (failures are
``StoreUnavailable``, the password masked). What must not live here: key making or checking.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from insightforge.gateway.keystore import KeyRecord
from middleware.stores import redis_server

__all__ = ["RedisKeyStore"]


class RedisKeyStore:
    """A :class:`~insightforge.gateway.keystore.KeyStore` in the Redis at ``url``."""

    def __init__(self, url: str, *, prefix: str = "insightforge:gateway:keys:",
                 timeout: float = 5.0) -> None:
        self.prefix = prefix
        self._server = redis_server(url, timeout=timeout)

    def _call(self, what: str, fn: Callable[[Any], Any]) -> Any:
        return self._server.call(what, fn)

    def add(self, record: KeyRecord) -> None:
        def add(client: Any) -> bool:
            if not client.hsetnx(self.prefix + "records", record.id, record.to_json()):
                return False
            client.hset(self.prefix + "digests", record.digest, record.id)
            return True

        if not self._call("add a gateway key", add):
            raise ValueError(f"key {record.id} exists already")

    def replace(self, old: KeyRecord, new: KeyRecord) -> None:
        def replace(client: Any) -> None:
            pipe = client.pipeline(transaction=True)
            if old.digest != new.digest:
                pipe.hdel(self.prefix + "digests", old.digest)
            pipe.hset(self.prefix + "digests", new.digest, new.id)
            pipe.hset(self.prefix + "records", new.id, new.to_json())
            pipe.execute()

        self._call("change a gateway key", replace)

    def by_digest(self, digest: str) -> KeyRecord | None:
        id = self._call("read the gateway keys",
                        lambda c: c.hget(self.prefix + "digests", digest))
        return None if id is None else self.get(id.decode())

    def get(self, id: str) -> KeyRecord | None:
        raw = self._call("read the gateway keys", lambda c: c.hget(self.prefix + "records", id))
        return None if raw is None else KeyRecord.from_json(raw)

    def records(self) -> list[KeyRecord]:
        rows = self._call("read the gateway keys", lambda c: c.hvals(self.prefix + "records"))
        return sorted((KeyRecord.from_json(raw) for raw in rows), key=lambda r: r.created)

    def ping(self) -> None:
        self._call("reach the gateway keys", lambda c: c.ping())

    def close(self) -> None:
        self._server.close()

    def __repr__(self) -> str:
        return f"RedisKeyStore({self._server.url!r})"
