"""Virtual keys in Redis (gateways on many machines).

Two hashes under one prefix: ``<prefix>records`` (id -> record JSON) and ``<prefix>digests``
(digest -> id), changed together in a MULTI/EXEC transaction. The client is the per-process
helper :class:`middleware._redis.ProcessRedis`. What must not live here: key making or
checking.
"""

from __future__ import annotations

import re
from typing import Any

from insightforge.gateway.keystore import KeyRecord
from middleware._redis import ProcessRedis

__all__ = ["RedisKeyStore"]


class RedisKeyStore:
    """A :class:`~insightforge.gateway.keystore.KeyStore` in the Redis at ``url``."""

    def __init__(self, url: str, *, prefix: str = "insightforge:gateway:keys:",
                 timeout: float = 5.0) -> None:
        self._url = url
        self.prefix = prefix
        self._redis = ProcessRedis(url, timeout=timeout)

    def _client(self) -> Any:
        return self._redis.get()

    def add(self, record: KeyRecord) -> None:
        client = self._client()
        if not client.hsetnx(self.prefix + "records", record.id, record.to_json()):
            raise ValueError(f"key {record.id} exists already")
        client.hset(self.prefix + "digests", record.digest, record.id)

    def replace(self, old: KeyRecord, new: KeyRecord) -> None:
        pipe = self._client().pipeline(transaction=True)
        if old.digest != new.digest:
            pipe.hdel(self.prefix + "digests", old.digest)
        pipe.hset(self.prefix + "digests", new.digest, new.id)
        pipe.hset(self.prefix + "records", new.id, new.to_json())
        pipe.execute()

    def by_digest(self, digest: str) -> KeyRecord | None:
        id = self._client().hget(self.prefix + "digests", digest)
        return None if id is None else self.get(id.decode())

    def get(self, id: str) -> KeyRecord | None:
        raw = self._client().hget(self.prefix + "records", id)
        return None if raw is None else KeyRecord.from_json(raw)

    def records(self) -> list[KeyRecord]:
        rows = self._client().hvals(self.prefix + "records")
        return sorted((KeyRecord.from_json(raw) for raw in rows), key=lambda r: r.created)

    def ping(self) -> None:
        self._client().ping()

    def close(self) -> None:
        self._redis.close()

    def __repr__(self) -> str:
        return f"RedisKeyStore({re.sub(r'//[^@/]*@', '//***@', self._url)!r})"
