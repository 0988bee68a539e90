"""Per-key limits through the ordinary layers, and the tags a key decides.

For a virtual key with a budget or a rate limit, the handler for one model is::

    stack(*served.outer,                                   # audit, cache (shared)
          Budget(limit_usd=key.budget_usd, period=key.period, scope="tag:key_id",
                 store=<shared>),
          RateLimit(rpm=key.rpm, key="tag:key_id", store=<shared>, max_wait=...),
          provider=served.inner)                           # the model's own stack

built on first use and kept. The per-key layers are keyed by the key's id, so a rotated key
keeps its spend; the ledger and limiter store are shared by every key (and, when SQLite or
Redis, by every worker). Tags: ``tenant`` and ``key_id`` come from the key; a request may
add other tags but never change these two.

What must not live here: HTTP, key lookup, the model table.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from insightforge.errors import InvalidRequest
from insightforge.gateway.auth import Caller
from insightforge.gateway.keystore import KeyRecord
from insightforge.gateway.models import Served
from insightforge.stack import Handler, Layer, stack

__all__ = ["RESERVED_TAGS", "Tenancy", "tags_for"]

RESERVED_TAGS = ("tenant", "key_id")


def tags_for(caller: Caller, client: Mapping[str, str], request_id: str) -> dict[str, str]:
    """The request's tags: the client's, the request id, and the key's tenant and id.

    A client tag ``tenant`` or ``key_id`` that differs from the key's is an
    :class:`InvalidRequest` naming it (with no virtual key, client tags stand).
    """
    tags = dict(client)
    tags["request_id"] = request_id
    if caller.key is not None:
        for name, value in (("tenant", caller.key.tenant), ("key_id", caller.key.id)):
            given = tags.get(name)
            if given is not None and given != value:
                raise InvalidRequest(f"tag {name}: set by your gateway key, it cannot be "
                                     "changed by a header or body field; remove it")
            tags[name] = value
    return tags


class Tenancy:
    """Builds and keeps the per-key handlers (see the module docstring).

    Attributes:
        store: where budgets and rate-limit buckets live (``memory``, ``sqlite:///..``,
            ``redis://..``). rate_limit_wait: seconds a request may wait for its key's rate
            limit before a 429.
    """

    def __init__(self, store: str = "memory", *, rate_limit_wait: float = 0.0) -> None:
        self.store = store
        self.rate_limit_wait = rate_limit_wait
        self._ledger: Any = None
        self._limits: Any = None
        self._layers: dict[tuple[str, str], tuple[Layer, ...]] = {}
        self._handlers: dict[tuple[str, str, str], Handler] = {}
        self._lock = threading.Lock()

    def _shared(self) -> tuple[Any, Any]:
        if self._ledger is None:
            from middleware.budget import ledger_from
            from middleware.ratelimit.stores import make_store

            self._ledger, self._limits = ledger_from(self.store), make_store(self.store)
        return self._ledger, self._limits

    def layers(self, key: KeyRecord) -> tuple[Layer, ...]:
        """The key's Budget and RateLimit layers (none when it has no limits)."""
        if key.budget_usd is None and key.rpm is None:
            return ()
        cache_key = (key.id, f"{key.budget_usd}/{key.period}/{key.rpm}")
        layers = self._layers.get(cache_key)
        if layers is None:
            from middleware import Budget, RateLimit

            ledger, limits = self._shared()
            built: list[Layer] = []
            if key.budget_usd is not None:
                built.append(Budget(limit_usd=key.budget_usd, period=key.period,
                                    scope="tag:key_id", store=ledger))
            if key.rpm is not None:
                built.append(RateLimit(rpm=key.rpm, key="tag:key_id", store=limits,
                                       max_wait=self.rate_limit_wait))
            layers = self._layers.setdefault(cache_key, tuple(built))
        return layers

    def handler(self, caller: Caller, served: Served) -> Handler:
        """What answers ``caller`` for ``served``."""
        key = caller.key
        if key is None:
            return served.default
        layers = self.layers(key)
        if not layers:
            return served.default
        slot = (key.id, f"{key.budget_usd}/{key.period}/{key.rpm}", served.name)
        handler = self._handlers.get(slot)
        if handler is None:
            with self._lock:
                handler = self._handlers.get(slot)
                if handler is None:
                    handler = stack(*served.outer, *layers, provider=served.inner)
                    self._handlers[slot] = handler
        return handler

    def ping(self) -> None:
        """Raise when the shared store cannot be reached (``/readyz``)."""
        if self.store.startswith(("redis://", "rediss://", "unix://")):
            from middleware.stores import redis_server

            redis_server(self.store, timeout=2.0).call("reach the shared store",
                                                        lambda c: c.ping())
        elif self.store != "memory":
            ledger, _ = self._shared()
            ledger.entries()

    def close(self) -> None:
        for item in (self._ledger, self._limits):
            close = getattr(item, "close", None)
            if callable(close):
                close()
