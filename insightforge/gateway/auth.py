"""Who is calling: a request's key -> :class:`Caller` (tenant, key record), or a refusal.

A key arrives as ``Authorization: Bearer KEY`` (OpenAI clients) or ``x-api-key: KEY``
(Anthropic clients). Virtual keys (``ifk_...``) are looked up by SHA-256 in the key store,
the digest compared again in constant time, and the record trusted for ``ttl`` seconds
(a revoke or rotate takes effect within that). Static keys (``--api-key``) are compared in
constant time against every key. With neither, the gateway is open.

What must not live here: HTTP responses, the per-key layers. No key ever reaches a log or
an error message.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Iterable, Mapping

import attrs
import cachetools

from insightforge.gateway.keystore import KEY_PREFIX, KeyRecord, KeyStore, digest, same_digest
from insightforge.secrets import Secret

__all__ = ["Caller", "Keys", "Unauthorized", "token_of"]

MAX_TOKEN = 256


@attrs.frozen
class Caller:
    """Who a request speaks for.

    Attributes:
        key: the virtual key's record (``None``: a static key, or an open gateway).
    """

    key: KeyRecord | None = None

    @property
    def tenant(self) -> str | None:
        return None if self.key is None else self.key.tenant

    @property
    def key_id(self) -> str | None:
        return None if self.key is None else self.key.id

    def may_use(self, model: str) -> bool:
        """The key's allow-list admits the listed name ``model`` (no list: every model)."""
        return self.key is None or not self.key.models or model in self.key.models


class Unauthorized(Exception):
    """The key is missing, unknown or revoked (the message says which, never the key)."""


def token_of(headers: Mapping[str, str]) -> str | None:
    """The key a request carries: ``Authorization: Bearer`` first, then ``x-api-key``."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    key = headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


class Keys:
    """The gateway's key check (see the module docstring)."""

    def __init__(self, static: Iterable[str | Secret] = (), store: KeyStore | None = None,
                 *, ttl: float = 5.0) -> None:
        self._static = tuple(k if isinstance(k, Secret) else Secret(k) for k in static)
        if any(not k for k in self._static):
            raise ValueError("an empty gateway API key would accept anyone: give a real key")
        self.store = store
        self._cache: cachetools.TTLCache[str, KeyRecord] | None = (
            cachetools.TTLCache(maxsize=100_000, ttl=ttl) if ttl > 0 else None)

    @property
    def required(self) -> bool:
        return bool(self._static) or self.store is not None

    def _static_match(self, token: str) -> bool:
        given, ok = token.encode(), False
        for key in self._static:  # every key compared: no early exit to time
            ok |= hmac.compare_digest(given, key.reveal().encode())
        return ok

    async def caller(self, token: str | None) -> Caller:
        """The caller ``token`` speaks for; raises :class:`Unauthorized`."""
        if not self.required:
            return Caller()
        if not token or len(token) > MAX_TOKEN:
            raise Unauthorized("missing gateway key: send `Authorization: Bearer <key>` "
                               "(or `x-api-key: <key>`)")
        if self.store is not None and token.startswith(KEY_PREFIX):
            record = await self._lookup(digest(token))
            if record is not None:
                if not record.active:
                    raise Unauthorized(f"gateway key {record.id} was revoked")
                return Caller(record)
        elif self._static and self._static_match(token):
            return Caller()
        raise Unauthorized("wrong gateway key: use a key made with `insightforge gateway "
                           "keys create` (or one the gateway was started with)")

    async def _lookup(self, wanted: str) -> KeyRecord | None:
        cache = self._cache
        record = cache.get(wanted) if cache is not None else None
        if record is None:
            assert self.store is not None
            record = await asyncio.to_thread(self.store.by_digest, wanted)
            if record is None or not same_digest(record.digest, wanted):
                return None
            if cache is not None:
                cache[wanted] = record
        return record
